"""Power cycles: littlefs on flash keeps its files; the pump comes back idle and safe."""

import pytest
from dut import DUT
from rig import VirtualRig


@pytest.mark.rig("power")
def test_files_on_flash_survive_a_power_cut(dut: DUT, rig: VirtualRig) -> None:
    dut.exec("with open('/keep.txt', 'w') as f:\n    f.write('dose log survives')")
    rig.power_cycle()
    assert dut.eval("open('/keep.txt').read()") == "dose log survives"


@pytest.mark.rig("power", "pins")
def test_power_cut_mid_infusion_leaves_the_motor_off(dut: DUT, rig: VirtualRig) -> None:
    dut.exec("pump.rate('5')\npump.start()")
    rig.run_s(0.5)
    assert rig.level("en") == 0
    rig.power_cycle()
    assert dut.eval("pump.status()['state']") == "idle"
    assert rig.level("en") == 1
    t = rig.now_ns()
    rig.run_s(1)
    assert rig.step_times(t) == []
