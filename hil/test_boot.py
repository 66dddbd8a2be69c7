"""Boot, imports and the heap on the real image."""

import pytest
from dut import DUT


def test_boots_into_the_pump_firmware(dut: DUT, board_def) -> None:
    dut.exec("import sys, gc")
    impl = dut.eval("(sys.implementation.name, sys.implementation.version[:2])")
    assert impl == ("micropython", (1, 25))
    assert dut.eval("board.NAME") in ("pico", board_def.name)
    assert dut.eval("type(pump).__name__") == "Pump"
    assert dut.eval("pump.status()['state']") in ("idle", "stopped", "complete")


def test_control_core_imports_without_machine(dut: DUT) -> None:
    dut.exec("import sys")
    mods = dut.eval(
        "[m for m in ('pump.planner', 'pump.controller', 'pump.api', 'drivers.pio_stepper')"
        " if __import__(m) is not None]"
    )
    assert len(mods) == 4
    src = dut.eval("'machine' in sys.modules['pump.planner'].__dict__")
    assert src is False


def test_heap_free_after_boot(dut: DUT, report: list[str]) -> None:
    dut.exec("import gc")
    free, alloc = dut.eval("(gc.collect(), gc.mem_free(), gc.mem_alloc())[1:]")
    report.append(f"heap after boot: {free:,} B free, {alloc:,} B used")
    assert free > 100_000


@pytest.mark.parametrize(
    "mod",
    ["test_ticks", "test_rate", "test_mechanics", "test_limbs", "test_controller", "test_alarms"],
)
def test_shared_core_tests_pass_on_the_rp2(dut: DUT, mod: str) -> None:
    """The same core tests as on CPython and the unix port, on 31-bit ints and 2**30 ticks."""
    from core_on_board import run_core_module

    out = run_core_module(dut, mod)
    assert " 0 failed" in out, out
    assert "passed" in out
