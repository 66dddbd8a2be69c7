"""What an engineer does at the REPL must not disturb a running infusion."""

import pytest
from dut import DUT
from rig import VirtualRig

# rp2.asm_pio clears the REPL's globals while it assembles: main.py's service timer must
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
