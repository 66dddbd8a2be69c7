"""hil/sigdecode.py, the HIL suite's decoder of the buzzer and LED pins, on edges made from the
firmware's own patterns (pump.signals) as the PIO plays them: it passes them, and it catches
a pattern outside the IEC 60601-1-8 table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pump import signals

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hil"))
import sigdecode  # noqa: E402

MS = 1_000_000


def _edges(levels: list[int], slot_ns: int, t0: int = 5 * MS) -> tuple[list[int], list[int]]:
    rising, falling = [], []
    prev = 0
    for i, v in enumerate(levels):
        if v != prev:
            (rising if v else falling).append(t0 + i * slot_ns)
            prev = v
    return rising, falling


def _tone_levels(p: int, periods: int) -> list[int]:
    buf = bytearray(signals.PERIOD_MS[p] // 8)
    signals.tone_bits(p, buf)
    one = [buf[i >> 3] >> (i & 7) & 1 for i in range(len(buf) * 8)]
    return one * periods


def _light_levels(p: int, periods: int) -> tuple[list[int], list[int]]:
    buf = bytearray(signals.light_bytes(p))
    signals.light_bits(p, buf)
    slots = [buf[i >> 2] >> (2 * (i & 3)) & 3 for i in range(len(buf) * 4)] * periods
    return [s & 1 for s in slots], [s >> 1 & 1 for s in slots]


@pytest.mark.parametrize("p", [signals.HIGH, signals.MEDIUM, signals.LOW])
def test_the_firmware_patterns_decode_within_the_table(p: int) -> None:
    levels = _tone_levels(p, 3)
    rising, _ = _edges(levels, MS)
    end = 5 * MS + len(levels) * MS
    s = sigdecode.sound(rising, whole_bursts_until=end)
    assert len(s.bursts) == 3 and s.priority == p
    assert s.freq_hz == pytest.approx(signals.TONE_HZ)
    assert s.repeat_ms == [signals.PERIOD_MS[p]] * 2
    red, green = _light_levels(p, 40)
    n = len(red) * signals.LIGHT_SLOT_MS * MS
    r = _edges(red, signals.LIGHT_SLOT_MS * MS)
    g = _edges(green, signals.LIGHT_SLOT_MS * MS)
    lt = sigdecode.light(r, g, red[-1], green[-1], 0, n)
    assert sigdecode.check(s, lt, p) == [], sigdecode.report(s, lt, p, "synthetic")
    line = sigdecode.report(s, lt, p, "synthetic")
    assert line.startswith(sigdecode.NAMES[p]) and "Hz" in line


def test_a_pattern_off_the_table_is_caught() -> None:
    levels = _tone_levels(signals.HIGH, 2)
    rising, _ = _edges(levels, MS)
    s = sigdecode.sound(rising)
    # the same bursts played 2.5x faster: 1250 Hz; 1.5x slower: 225 ms pulses, x 150 ms
    fast = sigdecode.sound([r * 2 // 5 for r in rising])
    slow = sigdecode.sound([r * 3 // 2 for r in rising])
    assert sigdecode.check(s, None, signals.HIGH) == []
    assert any("tone Hz" in b for b in sigdecode.check(fast, None, signals.HIGH))
    bad = sigdecode.check(slow, None, signals.HIGH)
    assert any("pulse width" in b for b in bad) and any("x ms" in b for b in bad), bad
    # a medium burst taken for a high one: the count says so
    med = sigdecode.sound(_edges(_tone_levels(signals.MEDIUM, 2), MS)[0])
    assert any("pulses" in b for b in sigdecode.check(med, None, signals.HIGH))
    # a steady light where high flashes red
    lt = sigdecode.Light("red", 0.0, 100.0)
    assert any("flash Hz" in b for b in sigdecode.check(s, lt, signals.HIGH))
