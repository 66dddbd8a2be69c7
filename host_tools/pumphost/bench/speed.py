"""Emulator speed: simulated seconds per CPU second (make bench)."""

import dataclasses
import time

from mpremote.transport_serial import SerialTransport

from pumphost.paths import REPO
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator
from pumphost.vboard.virtual import DEFAULT_IMAGE, VBoardError, VirtualBoard

_TARGET = 100_000  # x real time for the octreotide day (issue 2)


def _measure(sc: scenario.Scenario) -> tuple[float, int]:
    t0 = time.process_time()
    res = Emulator(sc).run()
    cpu = time.process_time() - t0
    return res.duration_s / cpu, res.steps


def main() -> None:
    octreotide = scenario.load(REPO / "host_tools/scenarios/octreotide-24h.toml")
    # 10 mL/h empties the 30 mL syringe in 3 h: run the 3 h the syringe lasts.
    fast = dataclasses.replace(
        scenario.load(REPO / "host_tools/scenarios/rate-10ml-h-24h.toml"),
        duration_us=3 * 3_600_000_000,
    )
    for label, sc, target in (
        ("octreotide 1632 µg/24h, 24 h", octreotide, _TARGET),
        ("10 mL/h, 3 h (a 30 mL syringe)", fast, None),
    ):
        ratio, steps = _measure(sc)
        line = f"emulator  {label:32s} {ratio:12,.0f} x real time  ({steps:,} steps)"
        if target:
            line += f"  target >= {target:,}x: {'met' if ratio >= target else 'MISSED'}"
        print(line)


_MKDIRS = """
import os
for d in ('/bench', '/bench/core'):
    try:
        os.mkdir(d)
    except OSError:
        pass
"""
_RUN = "import sys\nsys.path.insert(0, '/bench')\nimport bench_core\nbench_core.run({})"


def on_virtual_pico(steps: int = 3000) -> None:
    """The same core bench on our rp2 image: CPU timing there is the chip's, cycle for cycle
    (floats excepted: they go through our slower ROM tables)."""
    if not DEFAULT_IMAGE.exists():
        print(f"core      on the rp2: SKIPPED, no image at {DEFAULT_IMAGE}")
        return
    tests = REPO / "tests"
    try:
        with VirtualBoard(DEFAULT_IMAGE, fresh=True, port=0) as vb:
            vb.run_ns(1_000_000_000)
            t = SerialTransport(vb.url, baudrate=115200)
            try:
                t.enter_raw_repl(soft_reset=False)
                t.exec(_MKDIRS)
                t.fs_writefile("/bench/bench_core.py", (tests / "bench_core.py").read_bytes())
                t.fs_writefile("/bench/core/harness.py", (tests / "core/harness.py").read_bytes())
                out, err = t.exec_raw(_RUN.format(steps), timeout=300)
                print((out + err).decode().strip().replace("\r", ""))
            finally:
                t.close()
    except VBoardError as e:
        print(f"core      on the rp2: SKIPPED, virtual board failed: {e}")


if __name__ == "__main__":
    from pumphost.bench import alarms as bench_alarms
    from pumphost.bench import stall as bench_stall
    from pumphost.bench import vboard as bench_vboard

    main()
    on_virtual_pico()
    bench_stall.main()
    bench_vboard.vboard_speed()
    # make bench-alarms runs it on its own (in full: the bolus sweep on three seeds)
    bench_alarms.main(["--budget-s", "60", "--bolus-seeds", "11"])
