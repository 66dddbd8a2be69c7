"""The octreotide day on the real image: 24 h of 1,632 ug/24 h at 500 ug/mL (0.136 mL/h), STEP
pulses counted by the rig against the plan the host computes from the same core, within one
step at every check (every 10 simulated minutes) and at the end.

Hours of wall time, so outside `make test`: `make hil-long` runs it. Environment:
PUMP_HIL_LONG=1 enables it (set by make hil-long); PUMP_HIL_LONG_HOURS shortens it (say 0.5
to try the test itself).
"""

from __future__ import annotations

import os
import time

import pytest
from dut import DUT
from plan import intervals_us, steps_after
from rig import VirtualRig

from pump import rate as rates

SYRINGE = "bd-plastipak-10ml"
HOURS = float(os.environ.get("PUMP_HIL_LONG_HOURS", "24"))
CHUNK_S = 600  # simulated s per `run`: one check each, and well inside the control timeout

pytestmark = pytest.mark.skipif(
    not os.environ.get("PUMP_HIL_LONG"),
    reason="SKIPPED LOUDLY: the 24 h infusion takes hours of wall time: run `make hil-long`",
)


@pytest.mark.rig("pins", "time")
def test_octreotide_day_steps_match_the_plan(
    pump: DUT, rig: VirtualRig, report: list[str]
) -> None:
    rate = rates.from_dose(1632, 500)
    t0 = rig.now_ns()
    pump.exec("pump.dose(1632, 500)\npump.start()")
    wall0 = time.monotonic()
    total_s = HOURS * 3600
    done_s = 0.0
    worst = 0
    anchor = None
    while done_s < total_s:
        step_s = min(CHUNK_S, total_s - done_s)
        rig.run_s(step_s)
        done_s += step_s
        steps = rig.step_times(t0)
        if anchor is None and steps:
            # the plan's time zero: the first step's time minus its planned interval
            anchor = steps[0] - intervals_us(SYRINGE, rate, 1)[0] * 1000
        expected = steps_after(SYRINGE, rate, rig.now_ns() - anchor) if anchor else 0
        worst = max(worst, abs(len(steps) - expected))
        assert abs(len(steps) - expected) <= 1, (done_s, len(steps), expected)
    status = pump.eval("pump.status()")
    assert status["state"] == "running" and not status["alarms"], status
    # status() counts every step that went out, the last entry's included.
    pump.exec("pump.stop()")
    steps = rig.step_times(t0)
    assert pump.eval("pump.status()['steps']") == len(steps)
    wall = time.monotonic() - wall0
    report.append(
        f"octreotide {HOURS:g} h on the virtual Pico: {len(steps)} steps, plan +-{worst}, "
        f"{wall:.0f} s of wall time ({total_s / wall:.1f}x real time)"
    )
