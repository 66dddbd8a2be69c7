"""Power cycles: littlefs on flash keeps its files; a pump cut mid-infusion comes back with the
motor off, stopped and alarmed (the flash log says what was running), never silently idle."""

import pytest
from dut import DUT
from rig import VirtualRig


@pytest.mark.rig("power")
def test_files_on_flash_survive_a_power_cut(dut: DUT, rig: VirtualRig) -> None:
    dut.exec("with open('/keep.txt', 'w') as f:\n    f.write('dose log survives')")
    rig.power_cycle()
    assert dut.eval("open('/keep.txt').read()") == "dose log survives"


@pytest.mark.rig("power", "pins")
def test_power_cut_mid_infusion_leaves_the_motor_off(pump: DUT, rig: VirtualRig) -> None:
    pump.exec("pump.rate('5')\npump.start()")  # the `pump` fixture stops it if the cut fails
    rig.run_s(0.5)
    assert rig.level("en") == 0
    rig.power_cycle()
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and status["alarms"] == ["delivery_interrupted"]
    assert "power cut while running" in status["alarm_text"]["delivery_interrupted"]
    assert rig.level("en") == 1
    t = rig.now_ns()
    rig.run_s(1)
    assert rig.step_times(t) == []


@pytest.mark.rig("power")
def test_flash_image_file_carries_files_to_a_new_board(
    dut: DUT, rig: VirtualRig, tmp_path
) -> None:
    from pumphost.vboard.virtual import VirtualBoard

    if not isinstance(rig, VirtualRig):
        pytest.skip(  # before writing to the pump: a bench has no image file to carry
            "SKIPPED LOUDLY: the flash image file is the virtual board's: --target virtual only"
        )
    dut.exec("with open('/carried.txt', 'w') as f:\n    f.write('from the first board')")
    saved = rig.board.save_flash(tmp_path / "saved-flash.bin")
    assert saved.stat().st_size == 2 * 1024 * 1024
    with VirtualBoard(rig.board.image, flash=saved, port=0) as second:
        second.run_ns(1_000_000_000)
        assert DUT(second.url).eval("open('/carried.txt').read()") == "from the first board"
