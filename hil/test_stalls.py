"""The step pipeline against the stalls the firmware itself causes: flash writes (the CPU
stops with interrupts off), and a stall longer than the pipeline's reserve, which must end in
a stopped motor and a step_late alarm, never in a pump that says "running" and is not."""

from __future__ import annotations

import pytest
from dut import DUT
from plan import intervals_us
from rig import VirtualRig

from pump import rate as rates
from pumphost.bench.stall import IRQS_OFF

SYRINGE = "bd-plastipak-10ml"

WRITE_FLASH = """
import time, os
t = time.ticks_ms()
with open('/stall.bin', 'wb') as f:
    f.write(bytes(8192))
print(time.ticks_diff(time.ticks_ms(), t))
os.remove('/stall.bin')
"""


@pytest.mark.rig("pins", "time")
def test_flash_writes_at_100_ml_h_delay_no_step(pump: DUT, rig: VirtualRig, report) -> None:
    t0 = rig.now_ns()
    pump.exec("pump.rate('100')\npump.start()")
    rig.run_s(1)
    ms = [int(pump.exec(WRITE_FLASH)) for _ in range(3)]
    rig.run_s(0.5)
    status = pump.eval("pump.status()")
    pump.exec("pump.stop()")
    steps = rig.step_times(t0)
    report.append(f"8 KB file written 3 times at 100 mL/h: {ms} ms each, no step late")
    # 10 mL at 100 mL/h lasts 6 min: only the near-empty warning may show.
    assert status["state"] == "running" and status["alarms"] == ["near_empty"], status
    plan = intervals_us(SYRINGE, rates.from_ml_per_h(100), len(steps))
    measured = [(b - a) // 1000 for a, b in zip(steps, steps[1:], strict=False)]
    assert measured == plan[1:]  # every step on time, to the microsecond
    assert min(ms) > 100  # the writes really stalled the CPU for longer than 100 ms


@pytest.mark.rig("pins", "time")
def test_a_stall_beyond_the_reserve_stops_with_step_late(pump: DUT, rig: VirtualRig) -> None:
    pump.exec("pump.rate('100')\npump.start()")
    rig.run_s(0.5)
    # Interrupts off for longer than the FIFO's reserve at 100 mL/h (about 0.28 s): no IRQ and
    # no service step can refill it, exactly as during a long flash operation.
    pump.exec(IRQS_OFF.format(us=600_000))
    rig.run_s(0.2)  # the next service steps see the stall
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and status["alarms"] == ["near_empty", "step_late"]
    assert rig.level("en") == 1  # EN is active low: driver off
    t = rig.now_ns()
    rig.run_s(0.5)
    assert rig.step_times(t) == []
    pump.exec("pump.stop()")  # stop still works on a faulted pump
    assert pump.eval("pump.status()['state']") == "stopped"


@pytest.mark.rig("pins", "time")
def test_an_exception_in_the_service_step_stops_the_motor(pump: DUT, rig: VirtualRig) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    rig.run_s(0.5)
    # A bug in the step path, as a deployed module might have: the next service step raises.
    pump.exec(
        "def _bug(*a):\n    raise ZeroDivisionError('bug')\npump.controller.next_batch = _bug"
    )
    rig.run_s(3)
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and status["alarms"] == ["software_fault"], status
    assert "ZeroDivisionError" in status["alarm_text"]["software_fault"]
    assert rig.level("en") == 1
    t = rig.now_ns()
    rig.run_s(3)  # the watchdog keeps being fed: the service step is healthy again
    assert rig.step_times(t) == []
    assert pump.eval("pump.status()['alarms']") == ["software_fault"]
