"""The step path does not allocate: proved on the rp2 itself, where small ints are 31-bit.

The planner and controller half is the shared core test `test_step_path_does_not_allocate`,
which test_boot.py runs on the board; this file locks the heap around the live PIO path.
"""

import pytest
from dut import DUT
from rig import VirtualRig


@pytest.mark.rig("pins", "time")
def test_running_pump_under_heap_lock(pump: DUT, rig: VirtualRig) -> None:
    """PIO IRQs and the soft-timer service keep stepping with the heap locked."""
    pump.exec("pump.rate('50')\npump.start()")  # the `pump` fixture stops it, pass or fail
    before = pump.eval("pump.status()['steps']")
    t = rig.now_ns()
    out = pump.exec(
        "import micropython, time\n"
        "micropython.heap_lock()\n"
        "try:\n    time.sleep_ms(1500)\nfinally:\n    micropython.heap_unlock()\n"
        "print('unlocked')"
    )
    assert out.strip() == "unlocked", out  # no MemoryError from an IRQ or the timer
    after = pump.eval("pump.status()")
    pulses = len(rig.step_times(t))
    # 10 mL at 50 mL/h lasts 12 min: the near-empty warning, raised before the lock, only.
    assert after["state"] == "running" and after["alarms"] == ["near_empty"]
    assert after["steps"] - before > 400  # 50 mL/h is ~336 steps/s
    assert pulses > 400
    pump.exec("pump.stop()")
