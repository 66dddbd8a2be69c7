"""What an engineer does at the REPL must not disturb a running infusion."""

import pytest
from dut import DUT
from rig import VirtualRig

# rp2.asm_pio clears the REPL's globals while it assembles: boardapp's service timer must
# not look anything up there. Assemble a program many times while the pump runs.
ASSEMBLE_IN_A_LOOP = """
import rp2, time
for _ in range(40):
    @rp2.asm_pio()
    def _spin():
        nop()
    time.sleep_ms(7)
print('assembled')
"""


@pytest.mark.rig("pins", "time")
def test_assembling_pio_at_the_repl_while_infusing(pump: DUT, rig: VirtualRig) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    out = pump.exec(ASSEMBLE_IN_A_LOOP)  # the DUT fails on any printed traceback
    assert out.strip() == "assembled"
    t = rig.now_ns()
    rig.run_s(1)
    assert len(rig.step_times(t)) >= 30
    pump.exec("pump.stop()")


BUSY_AND_COLLECTING = """
import gc, time
t0 = time.ticks_ms()
junk = []
while time.ticks_diff(time.ticks_ms(), t0) < 1500:
    junk.append([0] * 64)
    if len(junk) > 200:
        junk = []
        gc.collect()
print('busy done')
"""


@pytest.mark.rig("pins", "time")
def test_busy_repl_and_gc_never_delay_a_step(pump: DUT, rig: VirtualRig) -> None:
    from plan import intervals_us

    from pump import rate as rates

    t0 = rig.now_ns()
    pump.exec("pump.rate('20')\npump.start()")
    assert pump.exec(BUSY_AND_COLLECTING).strip() == "busy done"
    pump.exec("pump.stop()")
    steps = rig.step_times(t0)
    assert len(steps) > 150  # 20 mL/h is ~135 steps/s
    plan = intervals_us("bd-plastipak-10ml", rates.from_ml_per_h(20), len(steps))
    assert [(b - a) // 1000 for a, b in zip(steps, steps[1:], strict=False)] == plan[1:]
