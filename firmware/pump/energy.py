# The energy model: the current the pump draws from its cell in a given state, in uA. The
# gauge counts charge with it (pump/power.py), the emulator's battery discharges by it
# (pumphost.sim.battery) and `make bench-power` prints it. Integers only: uW, mV, uA,
# permille. Each constant names its source; "bench:" marks a figure no data sheet gives, to
# be measured with the bench fixture's INA219 in series with the supply (issue 21 item 4).
from micropython import const

# --- the Pico (RP2040, its flash and its RT6150 buck-boost), as power at VSYS ---
# bench: a Pico running MicroPython at 125 MHz draws about 20 mA at 5 V waiting for
# interrupts and about 14 mA in BOOTSEL (measurements reported in rp-hal issue 659); the
# pico_power_saving measurements give 5.5 mA underclocked and 2 mA in sleep. The pump's CPU
# is idle most of the time (soft-timer service steps), so: idle 18 mA, active 24 mA at 5 V.
CPU_IDLE_UW = const(90000)
CPU_ACTIVE_UW = const(120000)

# --- the TMC2209 and the motor ---
# Coil power with EN on: both phases carry sine/cosine currents whose squares add up to the
# peak squared, so P = 2 x I_rms^2 x R_phase whatever the microstep. The drive's setting
# (boards/pico/WIRING.md): 400 mA rms run current on a 1.5 ohm/phase NEMA 17 (17HS4401-class
# data sheet: 1.5 ohm, 1.7 A rated): 2 x 0.4^2 x 1.5 = 480 mW. The TMC2209's own standstill
# reduction (IHOLD after TPOWERDOWN, about 2 s by default: TMC2209 data sheet) never starts
# at CSCI rates, where steps come about once a second.
COIL_UW = const(480000)
# bench: chopper and MOSFET losses; the TMC2209 data sheet's efficiency figures are for
# amperes, at 400 mA about 90 % is a fair start.
DRIVER_EFF_PM = const(900)
# TMC2209 data sheet: supply current with the outputs off (EN high) is a few mA at VM,
# typically 5 mA operating (internal 5 V regulator and charge pump).
DRIVER_UW_PER_V = const(5000)  # 5 mA: uW per V of VM

# --- the load cell, display and buzzer, on the Pico's 3V3 ---
# HX711 data sheet: 1.5 mA operating supply current (typ); the bridge of a 1 kohm bar load
# cell across its 3.3 V excitation takes 3.3 mA more: 16 mW at 3.3 V, always on.
LOADCELL_UW = const(15800)
# bench: SSD1306 data sheet gives the panel current by contrast and pixels lit; the pump's
# screens light about a quarter of the panel: 8 mA at 3.3 V while on, 10 uA asleep.
DISPLAY_UW = const(26400)
DISPLAY_SLEEP_UW = const(33)
# bench: the piezo through its transistor at 500 Hz, 10 mA at 3.3 V while a pulse sounds.
BUZZER_UW = const(33000)
# The 3V3 rail's buck-boost (RT6150 on the Pico) at light load: about 90 % (RT6150 data
# sheet's efficiency curve at 10-50 mA).
RAIL_EFF_PM = const(900)

# --- the path from the cell to VSYS and VM (the battery definition's "path") ---
# "buck": 9 V cell -> buck regulator -> 5 V VSYS; about 85 % at 10-50 mA (bench: the
# chosen regulator's curve); VM straight from the cell. "vsys": cell -> Schottky -> VSYS
# (the diode's drop is the loss: 250 mV of 3.7 V), VM from a 5 V boost, about 88 %.
PATHS = {
    "buck": (850, 1000),  # (VSYS path efficiency, VM path efficiency), permille
    "vsys": (930, 880),
}
# The 9 V cell's sense divider (300k + 100k): 22 uA at 9 V, counted as power at the cell.
DIVIDER_OHM = const(400000)


class State:
    """What the pump is doing, for the model: motor (EN on), the CPU's active share
    (permille), the display on, the buzzer's sounding share (permille)."""

    def __init__(self, motor=False, cpu_pm=50, display=False, buzzer_pm=0):
        self.motor = motor
        self.cpu_pm = cpu_pm
        self.display = display
        self.buzzer_pm = buzzer_pm


def vsys_uw(s):
    """Power the loads take at VSYS (uW): the Pico and its 3V3 rail's loads."""
    cpu = CPU_IDLE_UW + (CPU_ACTIVE_UW - CPU_IDLE_UW) * s.cpu_pm // 1000
    rail = LOADCELL_UW + (DISPLAY_UW if s.display else DISPLAY_SLEEP_UW)
    rail += BUZZER_UW * s.buzzer_pm // 1000
    return cpu + rail * 1000 // RAIL_EFF_PM


def vm_uw(s, vm_mv):
    """Power at the motor driver's VM (uW)."""
    p = DRIVER_UW_PER_V * vm_mv // 1000
    if s.motor:
        p += COIL_UW * 1000 // DRIVER_EFF_PM
    return p


def current_ua(cell, cell_mv, s):
    """The current (uA) the cell `cell` (a boards/batteries.py definition) at cell_mv
    supplies for the pump in state s."""
    eff_sys, eff_vm = PATHS[cell["path"]]
    vm_mv = cell_mv if eff_vm == 1000 else 5000
    p = vsys_uw(s) * 1000 // eff_sys + vm_uw(s, vm_mv) * 1000 // eff_vm
    ua = p * 1000 // cell_mv  # uW / mV = mA: x 1000 for uA
    if cell["sense"][0] == "divider":
        ua += cell_mv * 1000 // DIVIDER_OHM
    return ua
