# Battery definitions (issue 21): what the gauge (firmware/pump/power.py) and the emulator's
# battery model (pumphost.sim.battery) know of a cell. Plain integers (mV, uAh, milliohm,
# permille), read by the firmware (frozen as module `batteries`) and by the host tools.
#
# Fields:
#   name, chemistry, cells   what it is (cells in series)
#   capacity_uah             charge from full to cut_off_mv at the pump's drain (10-50 mA)
#   cut_off_mv               the end of the cell: below it the supply path drops out
#   hold_mv                  the lowest cell voltage under load at which the supply path still
#                            holds (the regulator's input minimum plus a margin): a loaded
#                            reading below it means the cell cannot carry the motor any more
#   r_int_mohm               internal resistance of a fresh cell (the gauge learns the real
#                            one from rest/load pairs; a worn or cold cell has several times it)
#   curve                    rest voltage -> charge left, ((mV, permille), ...) falling; the
#                            gauge interpolates between points
#   swap_mv                  a rest voltage this much above the last one is a new cell
#   absent_mv                a sensed voltage below this: no cell fitted
#   sense                    how the Pico sees the cell: ("vsys", 0) the cell feeds VSYS
#                            through a Schottky diode (ADC3 reads VSYS/3; the drop, mV, is
#                            added back), ("divider", ratio) a resistor divider from the cell
#                            to ADC2 (GP28), cell mV = pin mV x ratio
#   path                     what stands between the cell and the loads (the energy model's
#                            efficiencies: firmware/pump/energy.py)
#   source                   where the figures come from
#
# Every figure is typical, from the data sheet named; what no data sheet gives is marked
# "bench:" and is to be measured with the bench fixture's INA219 (issue 21 item 4).

# 9 V alkaline, IEC 6LR61 (ANSI 1604A): the T34's cell. Six Zn/MnO2 cells in series.
ALKALINE_9V = {
    "name": "6lr61",
    "chemistry": "alkaline Zn/MnO2",
    "cells": 6,
    # Duracell MN1604 (6LR61) data sheet: discharge curves at 100-1000 ohm (9-90 mA) to
    # 4.8 V; at 500-1000 ohm (10-18 mA, the pump's range) about 550 mAh to 0.9 V per cell.
    # Energizer 522 (the same size) gives about 600 mAh at 25 mA: 550 is the lower one.
    "capacity_uah": 550000,
    # 0.9 V per cell (the alkaline end voltage the MN1604 curves are drawn to, x 6), and the
    # input minimum of the buck regulator to VSYS (5.0 V out, about 0.3 V of dropout).
    "cut_off_mv": 5400,
    "hold_mv": 5600,
    "r_int_mohm": 1700,  # Duracell MN1604 data sheet: nominal impedance 1,700 mohm @ 1 kHz
    # Rest voltage against charge left: the shape of the MN1604's 1000-ohm curve (read off
    # the data sheet's chart: 9.5 V fresh, a long slope, the knee below 6.5 V).
    "curve": (
        (9500, 1000),
        (8800, 900),
        (8300, 780),
        (7900, 640),
        (7500, 500),
        (7100, 360),
        (6700, 230),
        (6300, 120),
        (5900, 50),
        (5400, 0),
    ),
    "swap_mv": 400,
    "absent_mv": 3000,
    # The cell feeds the regulator, not VSYS: ADC3 reads the regulated 5 V, so the cell is
    # read through a 300k/100k divider on ADC2 (9.5 V -> 2.38 V at the pin; 22 uA, counted in
    # the energy model).
    "sense": ("divider", 4),
    "path": "buck",  # 9 V -> buck -> 5 V VSYS; the motor's VM straight from the cell
    "source": "Duracell MN1604 and Energizer 522 data sheets (typical, 21 C)",
}

# 1S Li-ion, 18650 NCA/NMC cell (e.g. Panasonic NCR18650B class), cut off at 3.0 V.
LIION_1S = {
    "name": "li-ion-1s",
    "chemistry": "Li-ion (NCA/NMC)",
    "cells": 1,
    # Rated 3,200 mAh minimum to 2.5 V at 0.2 C (Panasonic NCR18650B data sheet); to 3.0 V at
    # the pump's 10-50 mA the last 3 % is not used (the cells release about 3 % between 3.0
    # and 2.4 V): 3,000 mAh.
    "capacity_uah": 3000000,
    "cut_off_mv": 3000,  # above the data sheet's 2.5 V minimum: the boost to VM stays in range
    "hold_mv": 3050,
    # Generic ICR18650 specification: under 80 mohm fresh (20 C, 1 kHz, charged); a protected
    # cell's PCB adds 20-40 mohm.
    "r_int_mohm": 100,
    # Typical Li-ion (NCA/NMC) rest voltage against charge left: flat between 3.6 and 3.9 V,
    # where the voltage says little and the counted charge carries the gauge.
    # bench: measure this cell's curve at C/20 with rests (the INA219 fixture).
    "curve": (
        (4180, 1000),
        (4060, 900),
        (3970, 800),
        (3890, 700),
        (3820, 600),
        (3760, 500),
        (3700, 400),
        (3650, 300),
        (3590, 200),
        (3480, 100),
        (3330, 40),
        (3000, 0),
    ),
    "swap_mv": 150,
    "absent_mv": 2000,
    # The Pico datasheet's battery arrangement: the cell to VSYS through a Schottky diode
    # (VBUS has its own), so ADC3 reads VSYS/3 = (cell - diode) / 3 off mains; on mains VSYS
    # is VBUS less its diode and the cell cannot be read (nor is it discharged).
    "sense": ("vsys", 250),  # 250 mV: a small Schottky at 10-50 mA (bench: measure yours)
    "path": "vsys",  # the cell -> diode -> VSYS (the Pico's buck-boost); VM through a boost
    "source": "Panasonic NCR18650B data sheet; generic ICR18650 specification",
}

BATTERIES = {ALKALINE_9V["name"]: ALKALINE_9V, LIION_1S["name"]: LIION_1S}


def get(name):
    """The definition named `name`; KeyError naming the known ones otherwise."""
    if name not in BATTERIES:
        raise KeyError("no battery %r (known: %s)" % (name, ", ".join(sorted(BATTERIES))))
    return BATTERIES[name]
