"""The plant: what the pump pushes against, for the emulator and the virtual board's rig.

One module so the two never disagree. It turns plunger travel (microsteps) into the force on
the plunger's load cell, through the syringe and line's compliance, the line's flow
resistance, the patient's back-pressure and the stopper's friction, with faults injectable at
given times. Nobody tuned it to flatter a detector: every parameter below has its source or
rationale next to it, and defaults stand unless a cited measurement says otherwise.

Units: time in s, volume in uL, pressure in mmHg, force in N (the firmware sees integer mN
from the load cell driver).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

MMHG_PA = 133.322  # 1 mmHg in Pa

# Compliance of syringe plus line, uL per mmHg (issue 7 reference defaults). A trapped volume
# V gives pressure V / C. The line adds 0.05 uL/mmHg to each.
SYRINGE_COMPLIANCE_UL_PER_MMHG = {10: 0.30, 20: 0.50, 30: 0.70}
LINE_COMPLIANCE_UL_PER_MMHG = 0.05

# Flow resistance of a 27 G subcutaneous set, by Hagen-Poiseuille (R = 8 mu L / (pi r^4),
# water at 37 C, mu = 0.7 mPa s): the 27 G needle (0.21 mm bore, 8 mm) 1.2e11 Pa s/m^3, 60 cm
# of 0.4 mm bore extension line 6.7e11: 7.9e11 Pa s/m^3 in all, 5.9 mmHg per uL/s. That is
# 8 mmHg at 5 mL/h and 0.2 mmHg at 0.136 mL/h; R C is about 2 s with a 10 mL syringe.
LINE_RESISTANCE_MMHG_PER_UL_S = 7.9e11 * 1e-9 / MMHG_PA  # mmHg per (uL/s)

# Patient back-pressure in subcutaneous tissue, 0-40 mmHg, slowly varying (issue 7 reference
# range; no rate is given). Modelled as a 4 h cycle over the full range (posture, tissue
# filling with the infusate): at most 0.5 mmHg per minute. Faster rises restrict the flow as
# a partial occlusion does, and an occlusion detector should call them that.
BACK_PRESSURE_MMHG = (0.0, 40.0)
BACK_PRESSURE_PERIOD_S = 4 * 3600.0

# Stopper friction of a 10 mL syringe (issue 7 reference defaults): static 4 N, dynamic 3 N,
# +-25 % along the stroke as a smooth random profile with a correlation length of a few mm,
# stick-slip noise 0.1 N rms; other sizes scale by stopper circumference (bore).
FRICTION_STATIC_N = 4.0
FRICTION_DYNAMIC_N = 3.0
FRICTION_PROFILE = 0.25
FRICTION_CORRELATION_MM = 3.0
STICK_SLIP_RMS_N = 0.1
BREAKAWAY_MM = 0.02  # static friction holds until the stopper moved this far
REFERENCE_BORE_MM = 14.5  # the 10 mL syringe the friction figures are for

# Load cell: 0.02 N rms noise, an offset and a slow drift (issue 7 reference defaults; a
# 5 kg bar cell on an HX711 at 10 samples/s is about that).
CELL_NOISE_RMS_N = 0.02
CELL_OFFSET_N = 0.3
CELL_DRIFT_N_PER_H = 0.02

# The stopper bottoming out at the end of the barrel: a stiff rise, 50 N per mm, which the
# firmware must call empty, not occlusion.
BOTTOM_STIFFNESS_N_PER_MM = 50.0
# Partial occlusion multiplies the line's resistance by this.
PARTIAL_OCCLUSION_FACTOR = 50.0
CELL_FULL_SCALE_N = 50.0

FAULTS = (
    "occlusion",
    "occlusion_release",
    "partial_occlusion",
    "syringe_removed",
    "sensor_open",
    "sensor_saturated",
)


@dataclass(frozen=True)
class Fault:
    at_s: float
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}: one of {', '.join(FAULTS)}")


@dataclass
class Sample:
    force_n: float | None  # None: no reading (sensor open)
    pressure_mmhg: float
    syringe_present: bool


@dataclass
class Plant:
    bore_mm: float
    nominal_ml: int
    um_per_step: float  # plunger travel per microstep
    nl_per_step: float
    stroke_mm: float  # travel from the loaded position to the barrel's end
    seed: int = 0
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self._rng = rng
        self.compliance = (
            SYRINGE_COMPLIANCE_UL_PER_MMHG.get(self.nominal_ml, 0.3 * self.nominal_ml / 10)
            + LINE_COMPLIANCE_UL_PER_MMHG
        )
        self.resistance = LINE_RESISTANCE_MMHG_PER_UL_S
        self.area_mm2 = math.pi * self.bore_mm**2 / 4
        scale = self.bore_mm / REFERENCE_BORE_MM
        self.static_n = FRICTION_STATIC_N * scale
        self.dynamic_n = FRICTION_DYNAMIC_N * scale
        self.stick_slip_n = STICK_SLIP_RMS_N * scale
        # A smooth random profile: a few sinusoids with wavelengths around the correlation
        # length, random phases, normalised to +-1.
        self._waves = [
            (2 * math.pi / (FRICTION_CORRELATION_MM * rng.uniform(1.0, 4.0)), rng.uniform(0, 6.3))
            for _ in range(4)
        ]
        self._bp_phase = rng.uniform(0, 2 * math.pi)
        self._offset = CELL_OFFSET_N * rng.uniform(-1, 1)
        self._drift = CELL_DRIFT_N_PER_H * rng.uniform(-1, 1) / 3600
        self.t = 0.0
        self.steps = 0
        # Volume pushed but not yet out: pressure = trapped / C. A primed line connected to
        # the patient starts at the tissue's pressure.
        self.trapped_ul = self.compliance * self.back_pressure(0.0)
        self.moved_since_rest_mm = 0.0
        self.delivered_out_ul = 0.0
        self._occluded = False
        self._partial = False
        self._removed = False
        self._open = False
        self._saturated = False
        self._backward = False  # the last move drew the plunger back: friction pulls
        self._pending = sorted(self.faults, key=lambda f: f.at_s)

    # --- the plant's own state ---

    def back_pressure(self, t: float) -> float:
        lo, hi = BACK_PRESSURE_MMHG
        mid, amp = (lo + hi) / 2, (hi - lo) / 2
        return mid + amp * math.sin(2 * math.pi * t / BACK_PRESSURE_PERIOD_S + self._bp_phase)

    def friction_profile(self, x_mm: float) -> float:
        return sum(math.sin(k * x_mm + p) for k, p in self._waves) / len(self._waves)

    def pressure(self) -> float:
        return self.trapped_ul / self.compliance

    def _apply_faults(self, t: float) -> None:
        while self._pending and self._pending[0].at_s <= t:
            kind = self._pending.pop(0).kind
            if kind == "occlusion":
                self._occluded = True
            elif kind == "occlusion_release":
                self._occluded = self._partial = False
            elif kind == "partial_occlusion":
                self._partial = True
            elif kind == "syringe_removed":
                self._removed = True
            elif kind == "sensor_open":
                self._open = True
            else:
                self._saturated = True

    def inject(self, kind: str, at_s: float | None = None) -> None:
        """A fault at at_s (default: now, in force from the next advance()): the rig's faults
        come when a test decides, a scenario's at given times."""
        self._pending.append(Fault(self.t if at_s is None else at_s, kind))
        self._pending.sort(key=lambda f: f.at_s)

    # --- time and steps ---

    def advance(self, t: float, steps: int) -> None:
        """Move to time t (s) with the plunger `steps` microsteps in (cumulative; fewer than
        before: the back-off after an occlusion drew it back, the pusher holding the flange).
        The pump's flow over the interval is taken as even, and the line's linear ODE
        dV/dt = q - (V / C - P_back) / R is solved exactly over it."""
        if t < self.t:
            raise ValueError("plant time cannot run backwards")
        dt = t - self.t
        dsteps = steps - self.steps
        self._apply_faults(t)
        pushed = dsteps * self.nl_per_step / 1000  # negative: drawn back into the syringe
        self.moved_since_rest_mm += abs(dsteps) * self.um_per_step / 1000
        if dsteps == 0:
            self.moved_since_rest_mm = 0.0
        else:
            self._backward = dsteps < 0
        if self._removed:
            self.trapped_ul = 0.0
        elif self._occluded or dt == 0:
            self.trapped_ul += pushed
        else:
            r = self.resistance * (PARTIAL_OCCLUSION_FACTOR if self._partial else 1.0)
            tau = r * self.compliance
            q = pushed / dt
            eq = self.compliance * (self.back_pressure(t) + r * q)
            before = self.trapped_ul + pushed
            self.trapped_ul = eq + (self.trapped_ul - eq) * math.exp(-dt / tau)
            self.delivered_out_ul += before - self.trapped_ul
        self.t = t
        self.steps = steps

    def sample(self) -> Sample:
        """What the load cell and the syringe-present switch read now."""
        present = not self._removed
        if self._open:
            return Sample(None, self.pressure(), present)
        if self._saturated:
            return Sample(CELL_FULL_SCALE_N, self.pressure(), present)
        if not present:
            force = 0.0
        else:
            x = self.steps * self.um_per_step / 1000
            moving = self.moved_since_rest_mm > 0
            if moving and self.moved_since_rest_mm >= BREAKAWAY_MM:
                fric = self.dynamic_n * (1 + FRICTION_PROFILE * self.friction_profile(x))
                fric += self._rng.gauss(0, self.stick_slip_n)
            else:
                fric = self.static_n if moving else 0.0
            if self._backward:
                fric = -fric  # the stopper drags against the pusher drawing it back
            force = fric + max(self.pressure(), 0.0) * MMHG_PA * self.area_mm2 * 1e-6
            beyond = x - self.stroke_mm
            if beyond > 0:
                force += BOTTOM_STIFFNESS_N_PER_MM * beyond
        force += self._offset + self._drift * self.t + self._rng.gauss(0, CELL_NOISE_RMS_N)
        return Sample(min(force, CELL_FULL_SCALE_N), self.pressure(), present)
