"""The fast false-alarm path (pumphost.sim.falsealarms) that make bench-alarms runs over 1,000
patient-days: it must compute what the plant model and the emulator compute, feed the
firmware's own detector, stay quiet on a normal day and raise an injected occlusion."""

from __future__ import annotations

import numpy as np
import pytest

from pump import loadcell
from pumphost.sim import falsealarms as fa
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator


@pytest.mark.parametrize(
    "syringe, fill, rate, hours",
    [
        ("bd-plastipak-10ml", "2.0", "1.00", 0.5),
        ("bd-plastipak-30ml", "5.0", "0.137", 0.5),
        ("bd-plastipak-10ml", "0.5", "5.00", 0.2),  # empties after 6 min
    ],
)
def test_the_detector_gets_what_it_gets_on_the_emulator(
    syringe: str, fill: str, rate: str, hours: float
) -> None:
    # The full emulator (pump.api.Pump and its service step on the plant, its HX711 words
    # through the board's LoadCell), its detector's every input recorded, against the fast
    # path with the board's conversion and the plant's own noise: the same (time, mN, steps)
    # stream, sample for sample.
    text = scenario.plant_scenario(syringe, fill, rate, hours, 42, "low")
    sc = scenario.parse(text, "cross")
    emu = Emulator(sc)
    seen: list[tuple[int, int, int]] = []
    det = emu.pump._detector
    assert det is not None
    feed = det.feed

    def recording(force: int, steps: int) -> int:
        seen.append((emu.clock.elapsed_us, force, steps))
        return feed(force, steps)

    det.feed = recording  # type: ignore[method-assign]
    res = emu.run()
    plan = fa.DayPlan(0, syringe, rate, "low", [fill], [], [10**9])
    fast = fa.run_day(
        0,
        plan=plan,
        noise="plant",
        end_s=hours * 3600 + 0.05,
        plant_seed=42,
        watch=True,
    )
    assert len(seen) > 3000
    assert fast.trace == seen
    assert fast.false_alarms == []
    assert fast.empties == res.alarm_kinds.count("reservoir_empty")


def test_the_load_cell_conversion_is_the_firmware_take() -> None:
    # Forces from below zero to beyond the HX711's range: LoadCell.take() one by one.
    force = np.concatenate([np.linspace(-5, 60, 5001), [200.0, -200.0]])
    words: list[int] = []
    now = [0]
    cell = loadcell.LoadCell(lambda: words.pop() if words else -1, lambda: now[0], lambda: 0)
    mn, bad = fa.to_mn(force, cell)
    for f, m, b in zip(force.tolist(), mn.tolist(), bad.tolist(), strict=True):
        counts = max(-0x800000, min(0x7FFFFF, cell.offset + round(f * cell.scale)))
        words.append(counts & 0xFFFFFF)  # what the rig makes the HX711 give
        now[0] += 100_000
        got = cell.take()
        assert (got is None and cell.fault == loadcell.SATURATED) == b
        assert b or got == m
    assert bad[-2:].all() and not bad[:-2].any()


def _csci_and_fast_seeds() -> tuple[int, int]:
    slow = next(s for s in range(1, 100) if float(fa.plan_day(s).rate_ml_h) < 0.3)
    fast = next(s for s in range(1, 100) if float(fa.plan_day(s).rate_ml_h) >= 1)
    return slow, fast


def test_normal_days_raise_no_alarm() -> None:
    for seed in _csci_and_fast_seeds():
        day = fa.run_day(seed)
        assert day.false_alarms == []
        assert day.samples > 700_000  # most of 864,000 samples: the motor ran all day
        assert day.running_h > 20


def test_an_occlusion_on_the_fast_path_raises_the_occlusion_alarm() -> None:
    # The line blocks 2 h in: the same fast path must raise the occlusion alarm, through the
    # firmware's Pump._occluded, within the 10 uL the issue asks for.
    seed, _ = _csci_and_fast_seeds()
    rate = float(fa.plan_day(seed).rate_ml_h)
    day = fa.run_day(seed, faults=[(7200.0, "occlusion")], stop_at_first=True)
    assert [a.kind for a in day.false_alarms] == ["occlusion"]
    alarm = day.false_alarms[0]
    displaced_ul = (alarm.t_s - 7200.0) * rate * 1000 / 3600
    assert 0 < displaced_ul <= 10.0
    assert "rate of rise" in alarm.text


def test_a_block_near_the_end_is_called_empty() -> None:
    # Under 10 % of the fill left, a rise is the stopper bottoming out: Pump._occluded calls
    # it empty. 1 mL at 1 mL/h: the line blocks after 57 min.
    plan = fa.DayPlan(5, "bd-plastipak-10ml", "1.00", "medium", ["1.0"], [], [10**9])
    day = fa.run_day(5, plan=plan, faults=[(3420.0, "occlusion")], stop_at_first=True)
    assert [a.kind for a in day.false_alarms] == ["reservoir_empty"]


def test_many_days_on_two_processes_add_up() -> None:
    s = fa.run_days(4, first_seed=1, workers=2)
    assert s.days == 4 and s.syringes >= 4 and not s.false_alarms
    lines = fa.report(s, 4)
    assert lines[0].startswith("false alarms: 0") and "days per wall-minute" in lines[1]


def test_the_line_opens_a_set_time_after_the_alarm() -> None:
    # The bench's stopcock test in one run (Emulator.release_after_alarm) against the same
    # release given as a [[fault]] at the alarm's time + 2 min, found by a first run.
    def emu(faults: list[tuple[float, str]]) -> Emulator:
        text = scenario.plant_scenario("bd-plastipak-10ml", 5.0, 5.0, 0.12, 3, "medium", faults)
        return Emulator(scenario.parse(text, "release"))

    first = emu([(0.05, "occlusion")])
    raised = float(first.run().alarms[0]["raised_s"])  # type: ignore[arg-type]
    assert 180 < raised < 190
    one = emu([(0.05, "occlusion")])
    one.release_after_alarm(120)
    got = one.run()
    two = emu([(0.05, "occlusion"), ((raised + 120) / 3600, "occlusion_release")]).run()
    assert got.released_bolus_ul is not None and two.released_bolus_ul is not None
    assert got.released_bolus_ul == pytest.approx(two.released_bolus_ul, abs=0.01)
    assert got.backoff_ul == two.backoff_ul


def test_the_bolus_sweep_finds_its_worst_and_says_missed_above_the_target() -> None:
    from pumphost.bench import alarms as ba

    cases = [(10, 5.0, 0.05, 3), (10, 5.0, 0.05, 4), (30, 5.0, 0.05, 3)]  # two in a row
    done = ba.bolus_sweep(cases, workers=1)
    rel = [c.released for c in done]
    assert all(r is not None for r in rel), done
    for c in done:  # the back-off takes back what the block added, to within 2 uL
        assert abs((c.released or 0.0) - (c.expected or 0.0)) < 2.0, c
    worst = max(done, key=lambda c: c.released or 0.0)
    w = worst.released or 0.0
    lines = ba.sweep_report(done, target=w - 0.01)
    (verdict,) = [x for x in lines if x.startswith("worst bolus released")]
    assert verdict.endswith("MISSED in the sweep")
    assert f"{w:.2f} µL ({worst.where()})" in verdict
    (verdict,) = [x for x in ba.sweep_report(done, target=w + 0.01) if "worst bolus" in x]
    assert verdict.endswith(": met in the sweep")
    # the most the plant allows: at least what the sweep saw, judged against the target too
    (bound,) = [x for x in lines if x.startswith("worst this plant allows")]
    most = float(bound.split("allows ")[1].split(" µL")[0])
    assert most >= w and bound.endswith(": MISSED")
    (bound,) = [x for x in ba.sweep_report(done, most) if x.startswith("worst this plant")]
    assert bound.endswith(": met")
