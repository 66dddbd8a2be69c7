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


JOINED_TX = """
import rp2
@rp2.asm_pio(fifo_join=rp2.PIO.JOIN_TX)
def _idle():
    nop()
_sm = rp2.StateMachine(3, _idle)
for _i in range(10):
    if _sm.tx_fifo() < 8:
        _sm.put(_i)
_joined = _sm.tx_fifo()
_sm.init(_idle)
print(_joined, _sm.tx_fifo())
"""


def test_a_joined_tx_fifo_holds_eight_words(dut: DUT) -> None:
    """The step driver's reserve: FJOIN_TX gives the TX FIFO all 8 words (stock rp2040js
    keeps 4; the bridge patches it), and re-initialising clears them."""
    joined, after = (int(v) for v in dut.exec(JOINED_TX).split())
    assert (joined, after) == (8, 0)
