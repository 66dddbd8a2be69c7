"""The energy budget (issue 21): average current and battery life on each battery definition
(boards/batteries.py) at 0.136, 1 and 5 mL/h, from the firmware's energy model
(firmware/pump/energy.py, every constant with its source there), printed with the constants.

Two ways of driving the motor between steps are compared:
  EN on    the present firmware: EN stays on while running, the coils carry the run current
           all the time (the TMC2209's standstill reduction needs a 2 s pause; CSCI rates step
           about once a second);
  EN/step  EN on only STEP_ON_MS around each microstep. Safe because the M5 lead screw is
           self-locking (0.8 mm lead on 5 mm: a 2.9 degree lead angle, far below the ~8.5
           degree friction angle of steel on steel at mu 0.15, so the syringe's back-pressure
           cannot turn it), and the TMC2209 keeps its microstep counter (MSCNT) while EN is
           high, so the next enable drives the same coil currents: no step is lost or gained.
           Not built yet: the numbers say whether it is worth it.
The CPU's active share is CPU_PM (bench: measure it on the virtual Pico, cycles run against
time spent in WFI); the system clock is 125 MHz throughout (not measured here: PIO timing
follows the clock divider, which would have to be set again at a slower clock).

Usage: python -m pumphost.bench.power
"""

from __future__ import annotations

import sys

from pump import energy, mechanics
from pumphost.sim.battery import batteries

RATES_ML_H = ("0.136", "1", "5")
STEP_ON_MS = 5  # bench: EN on 1 ms before a step (the coil current's rise, L/R about 1 ms)
# and 4 ms after it (the rotor settles); to be measured with the INA219 and a scope
CPU_PM = 50  # bench: the CPU's active share while running at CSCI rates (5 %)
GOAL_DAYS = 7  # issue 21: at least 7 days at 0.136 mL/h on one 6LR61
SYRINGE = "bd-plastipak-10ml"
MECH = (800, 200, 16)


def steps_per_h(rate_ml_h: str) -> float:
    vol = mechanics.nl_per_step(mechanics.Syringe(SYRINGE), mechanics.Drive(*MECH))
    return float(rate_ml_h) * 1e6 * vol[1] / vol[0]


def average_ua(cell: dict, rate_ml_h: str, en_per_step: bool) -> int:
    """The average current from `cell` at its mid-life voltage, running at rate_ml_h."""
    mv = cell["curve"][len(cell["curve"]) // 2][0]
    on = energy.current_ua(cell, mv, energy.State(motor=True, cpu_pm=CPU_PM))
    if not en_per_step:
        return on
    off = energy.current_ua(cell, mv, energy.State(motor=False, cpu_pm=CPU_PM))
    duty = min(1.0, steps_per_h(rate_ml_h) * STEP_ON_MS / 3_600_000)
    return round(off + (on - off) * duty)


def main() -> int:
    print("Energy budget (firmware/pump/energy.py; 'bench:' constants are to be measured)")
    for name in (
        "CPU_IDLE_UW",
        "CPU_ACTIVE_UW",
        "COIL_UW",
        "DRIVER_EFF_PM",
        "DRIVER_UW_PER_V",
        "LOADCELL_UW",
        "DISPLAY_UW",
        "BUZZER_UW",
        "RAIL_EFF_PM",
    ):
        print(f"  {name:16} {getattr(energy, name):>8}")
    print(f"  PATHS            {energy.PATHS}")
    print(f"  CPU active share {CPU_PM / 10:g} %, EN/step on-time {STEP_ON_MS} ms per microstep")
    print()
    print(f"{'battery':10} {'mL/h':>6} {'steps/h':>8} {'EN mode':8} {'mA':>7} {'life h':>7} days")
    for cell in batteries.BATTERIES.values():
        for rate in RATES_ML_H:
            for per_step in (False, True):
                ua = average_ua(cell, rate, per_step)
                hours = cell["capacity_uah"] / ua
                mode = "EN/step" if per_step else "EN on"
                print(
                    f"{cell['name']:10} {rate:>6} {steps_per_h(rate):8.0f} {mode:8} "
                    f"{ua / 1000:7.2f} {hours:7.1f} {hours / 24:.2f}"
                )
                if cell["name"] == "6lr61" and rate == "0.136" and per_step:
                    best = hours / 24
    need_ua = batteries.ALKALINE_9V["capacity_uah"] / (GOAL_DAYS * 24)
    print()
    print(
        f"Goal: {GOAL_DAYS} days at 0.136 mL/h on one 6LR61 needs {need_ua / 1000:.2f} mA on "
        f"average; the best mode here gives {best:.2f} days: "
        + ("met" if best >= GOAL_DAYS else f"missed by a factor of {GOAL_DAYS / best:.1f}")
    )
    _breakdown(batteries.ALKALINE_9V, "0.136")
    return 0  # a figure, not a gate: README and the notes say how far the goal is


def _breakdown(cell: dict, rate: str) -> None:
    """Where the power goes on `cell` at `rate` with EN per step (mW at the cell)."""
    eff_sys, eff_vm = energy.PATHS[cell["path"]]
    mv = cell["curve"][len(cell["curve"]) // 2][0]
    duty = steps_per_h(rate) * STEP_ON_MS / 3_600_000
    cpu = energy.CPU_IDLE_UW + (energy.CPU_ACTIVE_UW - energy.CPU_IDLE_UW) * CPU_PM / 1000
    rail = (energy.LOADCELL_UW + energy.DISPLAY_SLEEP_UW) * 1000 / energy.RAIL_EFF_PM
    parts = {
        "Pico (CPU, flash, 3V3 buck-boost)": cpu * 1000 / eff_sys,
        "load cell and HX711 (always on)": rail * 1000 / eff_sys,
        "TMC2209 supply (VM, always on)": energy.DRIVER_UW_PER_V * mv / 1000 * 1000 / eff_vm,
        "motor coils (EN per step)": energy.COIL_UW * 1000 / energy.DRIVER_EFF_PM * duty,
        "cell divider": mv * mv / energy.DIVIDER_OHM,
    }
    total = sum(parts.values())
    print(f"\nWhere it goes ({cell['name']} at {mv} mV, {rate} mL/h, EN per step):")
    for what, uw in parts.items():
        print(f"  {what:36} {uw / 1000:7.1f} mW {100 * uw / total:5.1f} %")


if __name__ == "__main__":
    sys.exit(main())
