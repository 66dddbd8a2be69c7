"""PIO behaviour the step driver relies on, true on the chip and checked on every target."""

from dut import DUT

CLEAR_ON_INIT = """
import rp2
@rp2.asm_pio()
def _idle():
    nop()
_sm = rp2.StateMachine(3, _idle)
_sm.put(1)
_sm.put(2)
_sm.put(3)
_before = _sm.tx_fifo()
_sm.init(_idle)
print(_before, _sm.tx_fifo())
"""


def test_state_machine_init_clears_its_fifos(dut: DUT) -> None:
    before, after = (int(v) for v in dut.exec(CLEAR_ON_INIT).split())
    assert (before, after) == (3, 0)
