"""The dose and event log on the board: a power cut in the middle of a log write, then the
reboot, and nothing committed is lost; `pumpctl logs pull` over the socket, then verify.

The log is the pump's own (`pump.log`, opened by boardapp at boot). The test adds records to
it from a soft timer every 10 ms, far more often than the pump's own DELIVERED records, so
that a write is under way to cut, and marks each flash program on a spare GPIO.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dut import DUT
from rig import VirtualRig

from pumphost.logs import dump
from pumphost.logs.verify import verify

MARK = 19  # a free GPIO: high while the log programs the flash (rig edges time the writes)
LOG = "pump.log"

SETUP = f"""
import rp2, time
from machine import Pin, Timer
from drivers.flashlog import RP2Flash
_mark = Pin({MARK}, Pin.OUT, value=0)
class _Marked(RP2Flash):
    def program(self, off, buf):
        _mark.value(1)
        RP2Flash.program(self, off, buf)
        _mark.value(0)
{LOG}._f = _Marked({LOG}._f._b)  # the pump's own log, its programs marked on a pin
"""
APPEND = f"""
_n = [0]
def _append(_t):
    _n[0] += 1
    {LOG}.add(time.ticks_us(), 14, _n[0], _n[0] * 7)
    {LOG}.service(time.ticks_us())
_timer = Timer(-1, mode=Timer.PERIODIC, period=10, callback=_append)
"""
REOPEN = "import boardapp\nprint(boardapp.LOG_OPEN_MS)"  # the pump opened it at boot


def _entries(rig: VirtualRig, tmp: Path, name: str) -> bytes:
    return dump.from_flash_image(rig.board.save_flash(tmp / name).read_bytes())


def _intact(entries: bytes) -> dict[int, bytes]:
    from pump import logrec

    out = {}
    for o in range(0, len(entries), 20):
        s = int.from_bytes(entries[o : o + 4], "little")
        if logrec.check(entries[o + 4 : o + 20], s):
            out[s] = entries[o + 4 : o + 20]
    return out


@pytest.mark.rig("power", "pins", "time")
def test_a_power_cut_mid_write_loses_nothing_committed(
    dut: DUT, rig: VirtualRig, tmp_path: Path, report
) -> None:
    # Reads the flash image and the board's flash status: on a bench this skips (loudly) here,
    # before the test's timer is appending to the pump's log.
    _ = rig.board.save_flash, rig.board.request
    assert dut.eval("__import__('os').statvfs('/')[2] * 4096") == 655360  # littlefs carved
    us = dut.exec(
        SETUP + f"_t = time.ticks_us()\nfor _i in range(50):\n    {LOG}.add(_t, 5, _i, 1)\n"
        "print(time.ticks_diff(time.ticks_us(), _t) // 50)"
    )
    report.append(f"log append on the rp2 image (vpico, typical flash timing): {us.strip()} us")
    dut.exec(APPEND)
    rig.run_s(0.3)
    t_now = rig.now_ns()
    rising, falling = rig.board.edges(MARK, t_now - 300_000_000)
    assert len(rising) > 10, "the log is not writing"
    period = sorted(b - a for a, b in zip(rising, rising[1:], strict=False))[len(rising) // 2]
    write_ns = sorted(f - r for r, f in zip(rising, falling, strict=False))[len(falling) // 2]
    # Run to just before the next write, then in 50 us steps until the flash is busy with a
    # program of the log (mark pin high): cut there, in the middle of the write.
    k = (t_now - rising[-1]) // period + 1
    rig.board.run_ns(max(rising[-1] + k * period - 200_000 - t_now, 0))
    # Up to 0.2 s: a sector erase (45 ms, no mark) may hold the flash for a few periods.
    for _ in range(int(max(3 * period, 200_000_000) // 50_000)):
        busy = rig.board.request("status")["flash_busy"]
        if busy and rig.board.pins()[MARK]["level"] == 1:
            break
        rig.board.run_ns(50_000)
    else:
        pytest.fail("no log write came along to cut")
    r2, _ = rig.board.edges(MARK, rising[-1])
    # What is committed at this instant (the program under way lands only when it is done).
    before = _intact(_entries(rig, tmp_path, "before.bin"))
    cut = rig.board.power_cut()
    rig.run_s(1.0)  # boot
    report.append(
        f"log power cut {(cut - r2[-1]) / 1000:.0f} us into a {write_ns / 1000:.0f} us page "
        f"program ({len(before)} records committed before)"
    )
    ms = dut.exec(REOPEN).strip()
    report.append(f"log recovery at boot on the rp2 image (192 sectors): {ms} ms")
    after = _intact(_entries(rig, tmp_path, "after.bin"))
    lost = [s for s, rec in before.items() if after.get(s) != rec]
    assert not lost, f"committed records lost or changed after the cut: {lost[:10]}"
    res = verify(_entries(rig, tmp_path, "final.bin"))
    assert res.ok, res.text()
    assert any("burned by the device" in n for n in res.notes), res.notes

    # pumpctl logs pull over the socket, then verify, then pull again: nothing new twice
    out = tmp_path / "pulled.plog"
    pumpctl = [str(Path(sys.executable).parent / "pumpctl")]
    cmd = ["logs", "pull", "--port", rig.board.url, "-o", str(out), "--log", LOG]
    p = subprocess.run([*pumpctl, *cmd], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr + p.stdout
    v = subprocess.run([*pumpctl, "logs", "verify", str(out)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    report.append(f"pumpctl logs pull over {rig.board.url}: {p.stdout.strip()}")
    dut.exec(f"import time\n{LOG}.add(time.ticks_us(), 4, 1, 0)")
    p = subprocess.run([*pumpctl, *cmd], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and ": 1 new records" in p.stdout, p.stdout + p.stderr


def _new_records(dut: DUT, first: int) -> dict[int, tuple[int, int, int]]:
    """The intact records from seq `first` on, read over the REPL: seq -> (code, a, b)."""
    from pump import logrec

    hexed = dut.exec(
        f"import binascii\n_s = {first}\nwhile True:\n    _e = {LOG}.read(_s, 32)\n"
        "    if not _e:\n        break\n    print(binascii.hexlify(_e).decode())\n"
        "    _s = int.from_bytes(_e[-20:-16], 'little') + 1"
    )
    entries = bytes.fromhex("".join(hexed.split()))
    out = {}
    for o in range(0, len(entries), logrec.ENTRY):
        seq = int.from_bytes(entries[o : o + 4], "little")
        rec = entries[o + 4 : o + logrec.ENTRY]
        if logrec.check(rec, seq):
            code, _x, a, b = logrec.unpack(rec)
            out[seq] = (code, a, b)
    return out


@pytest.mark.rig("power", "pins", "time")
def test_a_power_cut_on_the_pumps_own_write_loses_nothing_committed(
    dut: DUT, rig: VirtualRig, report
) -> None:
    """The same cut as above, timed as a bench can time it: the rig cuts the power a set time
    after the mark pin rises (the fixture's PIO, on a bench), half-way into a log program.
    What was committed is what the pump had appended and read back before the cut was armed;
    every one of those is there after the reboot, and the records form an unbroken run."""
    dut.exec(SETUP)
    first = dut.eval(f"{LOG}.count")
    dut.exec(APPEND)
    try:
        rig.run_s(0.3)
        rising, falling = rig.edges("mark", rig.now_ns() - 300_000_000)
        assert len(rising) > 10, "the log is not writing"
        widths = sorted(next(f for f in falling if f > r) - r for r in rising[:-1])
        write_ns = widths[len(widths) // 2]
        committed = dut.eval("_n[0]")  # each append programs and reads back its record
        rise, cut = rig.cut_on_mark(write_ns // 2)  # the reboot stops the timer
    except BaseException:
        dut.exec("_timer.deinit()")
        raise
    _, fell = rig.edges("mark", rise)
    # MARK falls when the program ends, or when the cut resets the pump: at the cut, not before
    assert fell and fell[0] >= cut - 100, "the program ended before the cut: nothing was cut"
    assert fell[0] - cut <= 10_000, f"MARK fell {fell[0] - cut} ns after the cut"
    recs = _new_records(dut, first)
    ns = [a for code, a, b in recs.values() if code == 14]
    report.append(
        f"log power cut {(cut - rise) / 1000:.0f} us after the program's mark rose, the mark "
        f"down {fell[0] - cut} ns after the cut (a "
        f"{write_ns / 1000:.0f} us program): {committed} records committed when the cut was "
        f"armed, {len(ns)} intact after the reboot"
    )
    assert ns == list(range(1, len(ns) + 1)), "the records after the cut are not an unbroken run"
    assert len(ns) >= committed, f"committed records lost: {len(ns)} of {committed} left"
    assert all(b == 7 * a for code, a, b in recs.values() if code == 14)


def test_the_rp2_image_has_what_the_hmac_chain_needs(dut: DUT, report) -> None:
    """hashlib.sha256 (the image has no hmac module: pump.logrec spells HMAC out)."""
    got = dut.eval(
        "(hasattr(__import__('hashlib'), 'sha256'), hasattr(__import__('hashlib'), 'sha1'),"
        " __import__('binascii').crc32(b'123456789'))"
    )
    assert got == (True, True, 0xCBF43926)
    try:
        dut.exec("import hmac")
        has_hmac = True
    except AssertionError:
        has_hmac = False
    mac = dut.exec(
        "from pump import logrec\nimport binascii\nc = logrec.Chain(b'Jefe', b'')\n"
        "c.restart(b'')\nc.update(b'what do ya want for nothing?')\n"
        "print(binascii.hexlify(c.value()).decode())"
    ).strip()
    assert mac == "5bdcc146bf60754e"  # RFC 4231 test case 2, first 8 bytes
    report.append(
        f"rp2 image: hashlib.sha256 and sha1, binascii.crc32; hmac module: {has_hmac}; "
        "HMAC-SHA256 of pump.logrec matches RFC 4231"
    )
