"""The plant: what the pump pushes against, for the emulator, the virtual board's rig and the
false-alarm replay.

One module so they never disagree. It turns plunger travel (microsteps) into the force on
the plunger's load cell, through the syringe and line's compliance, the line's flow
resistance, the patient's back-pressure and the stopper's friction, with faults injectable at
given times. Nobody tuned it to flatter a detector: every parameter below has its source or
rationale next to it, and defaults stand unless a cited measurement says otherwise.

One sample at a time (`advance`, `sample`: the emulator, the rig) or a run of samples at once
(`run`, with numpy: the false-alarm replay), through the same equations, each written once
over floats or arrays (`xp`: `Scalars` or numpy). `for_syringe` builds the plant for a
catalogue syringe on a pump's drive.

Units: time in s, volume in uL, pressure in mmHg, force in N (the firmware sees integer mN
from the load cell driver).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pump import mechanics

if TYPE_CHECKING:
    import numpy as np

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
_BP_MID = (BACK_PRESSURE_MMHG[0] + BACK_PRESSURE_MMHG[1]) / 2
_BP_AMP = (BACK_PRESSURE_MMHG[1] - BACK_PRESSURE_MMHG[0]) / 2
_TWO_PI = 2 * math.pi

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

# Each fault kind, and what it sets in the plant's state from its time on (scenarios take
# their [[fault]] kinds from here).
FAULT_EFFECTS: dict[str, dict[str, bool]] = {
    "occlusion": {"occluded": True},
    "occlusion_release": {"occluded": False, "partial": False},
    "partial_occlusion": {"partial": True},
    "syringe_removed": {"removed": True},
    "sensor_open": {"sensor_open": True},
    "sensor_saturated": {"saturated": True},
}
FAULTS = tuple(FAULT_EFFECTS)
LINE_FAULTS = ("occlusion", "occlusion_release", "partial_occlusion")  # what run() models
_BLOCK = 64  # samples per block of the line's linear recurrence in run()


@dataclass(frozen=True)
class Fault:
    at_s: float
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}: one of {', '.join(FAULTS)}")


@dataclass(slots=True)
class Sample:
    force_n: float | None  # None: no reading (sensor open)
    pressure_mmhg: float
    syringe_present: bool


def _where(cond: object, a: float, b: float) -> float:
    return a if cond else b


# numpy's names for the operations the plant's equations use, on one float at a time (math's
# functions are much faster there than numpy's)
Scalars = SimpleNamespace(exp=math.exp, sin=math.sin, maximum=max, minimum=min, where=_where)


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
        self.compliance = compliance(self.nominal_ml)
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
        self.steps_since_rest = 0  # the same travel in whole steps
        self.delivered_out_ul = 0.0
        # the faults in force (FAULT_EFFECTS)
        self.occluded = False
        self.partial = False
        self.removed = False
        self.sensor_open = False
        self.saturated = False
        self._direction = 1.0  # -1.0: the last move drew the plunger back: friction pulls
        self._pending = sorted(self.faults, key=lambda f: f.at_s)
        self._last: dict[str, Any] = {}  # the last run(), for truncate()

    # --- the equations, over floats (xp=Scalars) or numpy arrays (xp=numpy) ---

    def back_pressure(self, t: Any, xp: Any = Scalars) -> Any:
        return _BP_MID + _BP_AMP * xp.sin(_TWO_PI * t / BACK_PRESSURE_PERIOD_S + self._bp_phase)

    def friction_profile(self, x_mm: Any, xp: Any = Scalars) -> Any:
        total = 0.0
        for k, p in self._waves:
            total = total + xp.sin(k * x_mm + p)
        return total / len(self._waves)

    def _line(self, t: Any, dt: Any, pushed: Any, partial: Any, xp: Any = Scalars) -> Any:
        """The open line over dt s up to t, `pushed` uL coming in evenly: dV/dt = q - (V / C -
        P_back) / R, solved exactly: V(t) = eq + (V(t - dt) - eq) decay; (decay, eq)."""
        r = self.resistance * (1 + (PARTIAL_OCCLUSION_FACTOR - 1) * partial)  # partial: 0 or 1
        decay = xp.exp(-dt / (r * self.compliance))
        return decay, self.compliance * (self.back_pressure(t, xp) + r * (pushed / dt))

    def _dynamic_friction(self, x_mm: Any, z: Any, xp: Any = Scalars) -> Any:
        """The stopper's friction once broken away, at x_mm along the stroke, with its
        stick-slip noise z (in rms units)."""
        profile = self.friction_profile(x_mm, xp)
        return self.dynamic_n * (1 + FRICTION_PROFILE * profile) + z * self.stick_slip_n

    def _reading(
        self,
        t: Any,
        x_mm: Any,
        pressure: Any,
        motion: Any,
        broke: Any,
        dynamic: Any,
        z: Any,
        xp: Any = Scalars,
    ) -> Any:
        """What the load cell reads at t (N) of the force on the plunger: the stopper's
        friction (motion 0: at rest, none; 1: pushed, static until it has moved BREAKAWAY_MM,
        `dynamic` after; -1: drawn back, it drags against the pusher), the line's pressure on
        it and, past the barrel's end, its bottoming out; with the cell's offset, drift and
        noise z (in rms units), clamped at its full scale."""
        fric = xp.where(broke, dynamic, self.static_n) * motion
        force = fric + xp.maximum(pressure, 0.0) * MMHG_PA * self.area_mm2 * 1e-6
        beyond = xp.maximum(x_mm - self.stroke_mm, 0.0)
        force = force + BOTTOM_STIFFNESS_N_PER_MM * beyond
        force = force + (self._offset + self._drift * t + z * CELL_NOISE_RMS_N)
        return xp.minimum(force, CELL_FULL_SCALE_N)

    # --- the plant's own state ---

    def pressure(self) -> float:
        return self.trapped_ul / self.compliance

    def _apply_faults(self, t: float) -> None:
        while self._pending and self._pending[0].at_s <= t:
            for name, value in FAULT_EFFECTS[self._pending.pop(0).kind].items():
                setattr(self, name, value)

    def inject(self, kind: str, at_s: float | None = None) -> None:
        """A fault at at_s (default: now, in force from the next advance()): the rig's faults
        come when a test decides, a scenario's at given times."""
        self._pending.append(Fault(self.t if at_s is None else at_s, kind))
        self._pending.sort(key=lambda f: f.at_s)

    # --- one sample at a time ---

    def advance(self, t: float, steps: int) -> None:
        """Move to time t (s) with the plunger `steps` microsteps in (cumulative; fewer than
        before: the back-off after an occlusion drew it back, the pusher holding the flange).
        The pump's flow over the interval is taken as even."""
        if t < self.t:
            raise ValueError("plant time cannot run backwards")
        dt = t - self.t
        dsteps = steps - self.steps
        if self._pending and self._pending[0].at_s <= t:
            self._apply_faults(t)
        pushed = dsteps * self.nl_per_step / 1000  # negative: drawn back into the syringe
        if dsteps == 0:
            self.moved_since_rest_mm = 0.0
            self.steps_since_rest = 0
        else:
            moved = abs(dsteps)
            self.moved_since_rest_mm += moved * self.um_per_step / 1000
            self.steps_since_rest += moved
            self._direction = -1.0 if dsteps < 0 else 1.0
        if self.removed:
            self.trapped_ul = 0.0
        elif self.occluded or dt == 0:
            self.trapped_ul += pushed
        else:
            decay, eq = self._line(t, dt, pushed, self.partial)
            before = self.trapped_ul + pushed
            self.trapped_ul = eq + (self.trapped_ul - eq) * decay
            self.delivered_out_ul += before - self.trapped_ul
        self.t = t
        self.steps = steps

    def sample(self) -> Sample:
        """What the load cell and the syringe-present switch read now."""
        present = not self.removed
        pressure = self.trapped_ul / self.compliance
        if self.sensor_open:
            return Sample(None, pressure, present)
        if self.saturated:
            return Sample(CELL_FULL_SCALE_N, pressure, present)
        if not present:  # nothing on the cell: its offset, drift and noise alone
            force = self._reading(self.t, 0.0, 0.0, 0.0, False, 0.0, self._rng.gauss())
            return Sample(force, pressure, present)
        x = self.steps * self.um_per_step / 1000
        moving = self.moved_since_rest_mm > 0
        broke = moving and self.moved_since_rest_mm >= BREAKAWAY_MM
        # the stick-slip noise is drawn (before the cell's) only once broken away
        dyn = self._dynamic_friction(x, self._rng.gauss()) if broke else 0.0
        z = self._rng.gauss()
        motion = self._direction if moving else 0.0
        force = self._reading(self.t, x, pressure, motion, broke, dyn, z)
        return Sample(force, pressure, present)

    # --- a run of samples at once ---

    def run(
        self, t: np.ndarray, steps: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """advance(t[i], steps[i]) then sample() for each i, with numpy: the force on the
        load cell (N) at each sample; the plant is left as after the last (`truncate(i)` puts
        it back to sample i). Time and the plunger only go forward, and only line faults
        (LINE_FAULTS) are modelled. rng None: the noise from the plant's own random stream,
        in the order sample() draws it (the same numbers); else from rng."""
        import numpy as np

        n = len(t)
        if n == 0:
            return np.zeros(0)
        dt = np.diff(t, prepend=self.t)
        d = np.diff(steps, prepend=self.steps)
        if (dt <= 0).any() or (d < 0).any():
            raise ValueError("plant time and the plunger only go forward")
        other = [f.kind for f in self._pending if f.kind not in LINE_FAULTS]
        if other or self.removed or self.sensor_open or self.saturated:
            raise ValueError(f"the bulk run models line faults only, not {other or 'these'}")
        occl, part = self._regimes(t)
        pushed = d * self.nl_per_step / 1000
        decay, eq = self._line(t, dt, pushed, part, np)
        # V_i = a_i V_(i-1) + b_i: the line's ODE over each interval, or all trapped
        a = np.where(occl, 1.0, decay)
        b = np.where(occl, pushed, eq * (1 - decay))
        trapped = _recurrence(a, b, self.trapped_ul)
        run, broke = self._moved(d)
        stick, cell = self._noise(broke, rng)
        x = steps * self.um_per_step / 1000
        dyn = self._dynamic_friction(x, stick, np)
        force = self._reading(t, x, trapped / self.compliance, d > 0, broke, dyn, cell, np)
        self._last = {"t": t, "steps": steps, "trapped": trapped, "run": run, "d": d}
        self._last.update(occl=occl, part=part, pending=list(self._pending))
        self._last.update(moved=self.moved_since_rest_mm, steps0=self.steps)
        # what the line let out: what came in less what it holds more (an occluded interval
        # lets nothing out and holds what came in)
        self._last.update(out=self.delivered_out_ul + self.trapped_ul)
        self.truncate(n - 1)
        return force

    def truncate(self, i: int) -> None:
        """The plant's state as it was right after sample i of the last run()."""
        import numpy as np

        s = self._last
        self.t = float(s["t"][i])
        self.steps = int(s["steps"][i])
        self.trapped_ul = float(s["trapped"][i])
        pushed = (self.steps - s["steps0"]) * self.nl_per_step / 1000
        self.delivered_out_ul = s["out"] + pushed - self.trapped_ul
        self.steps_since_rest = int(s["run"][i])
        # The float sum matters only until the stopper breaks away: keep it while close.
        um = self.um_per_step
        if self.steps_since_rest * um / 1000 < BREAKAWAY_MM + 1e-6:
            rest = np.flatnonzero(s["d"][: i + 1] == 0)
            last = int(rest[-1]) if len(rest) else -1
            self.moved_since_rest_mm = self._float_moved(s["d"], last, i, s["moved"])
        else:
            self.moved_since_rest_mm = self.steps_since_rest * um / 1000
        if self.steps_since_rest:
            self._direction = 1.0
        self.occluded = bool(s["occl"][i])
        self.partial = bool(s["part"][i])
        self._pending = [f for f in s["pending"] if f.at_s > self.t]

    def _regimes(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether the line is occluded, partly occluded, at each sample (a fault is in force
        from the first advance at or after its time)."""
        import numpy as np

        state = {
            "occluded": np.full(len(t), self.occluded),
            "partial": np.full(len(t), self.partial),
        }
        for f in self._pending:
            i = int(np.searchsorted(t, f.at_s, side="left"))
            if i >= len(t):
                break
            for name, value in FAULT_EFFECTS[f.kind].items():
                state[name][i:] = value
        return state["occluded"], state["partial"]

    def _moved(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps since the last rest at each sample (0 at rest), and where the stopper has
        broken away (moved_since_rest_mm >= BREAKAWAY_MM, as advance()'s float sum has it)."""
        import numpy as np

        n = len(d)
        moving = d > 0
        cs = np.cumsum(d)
        idx = np.where(moving, -1, np.arange(n))
        last_rest = np.maximum.accumulate(idx)
        base = np.where(last_rest >= 0, cs[np.maximum(last_rest, 0)], -self.steps_since_rest)
        run = cs - base
        approx = run * self.um_per_step / 1000
        broke = moving & (approx >= BREAKAWAY_MM)
        # Exactly at the breakaway distance the plant's float sum decides: redo it there.
        for i in np.flatnonzero(moving & (np.abs(approx - BREAKAWAY_MM) < 1e-9)):
            m = self._float_moved(d, int(last_rest[i]), int(i), self.moved_since_rest_mm)
            broke[i] = m >= BREAKAWAY_MM
        return run, broke

    def _float_moved(self, d: np.ndarray, last_rest: int, i: int, moved: float) -> float:
        """advance()'s float sum of the travel from the rest at sample last_rest (-1: the run
        started at `moved` since the last rest) to sample i."""
        m = moved if last_rest < 0 else 0.0
        for j in range(last_rest + 1, i + 1):
            m = m + int(d[j]) * self.um_per_step / 1000
        return m

    def _noise(
        self, broke: np.ndarray, rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The stick-slip and the cell's noise of each sample, in rms units."""
        import numpy as np

        n = len(broke)
        if rng is not None:
            return rng.standard_normal(n), rng.standard_normal(n)
        # sample() draws the stick-slip (when broken away) and then the cell's noise.
        extra = np.cumsum(broke)
        total = n + int(extra[-1]) if n else 0
        g = self._rng.gauss
        z = np.array([g(0.0, 1.0) for _ in range(total)])
        cell_at = np.arange(n) + extra
        stick = np.zeros(n)
        stick[broke] = z[cell_at[broke] - 1]
        return stick, z[cell_at]


def _recurrence(a: np.ndarray, b: np.ndarray, v0: float) -> np.ndarray:
    """v_i = a_i v_(i-1) + b_i from v_(-1) = v0, in blocks: within one, v_i = P_i (v_start +
    sum_k<=i b_k / P_k) with P the running product of a (a is 1 or exp(-dt / tau) >= 0.95
    here, so P stays far from underflow)."""
    import numpy as np

    n = len(a)
    m = -(-n // _BLOCK)
    pad = m * _BLOCK - n
    a2 = np.concatenate([a, np.ones(pad)]).reshape(m, _BLOCK)
    b2 = np.concatenate([b, np.zeros(pad)]).reshape(m, _BLOCK)
    prod = np.cumprod(a2, axis=1)
    acc = np.cumsum(b2 / prod, axis=1) * prod
    starts = np.empty(m)
    v = v0
    for j, (pl, sl) in enumerate(zip(prod[:, -1].tolist(), acc[:, -1].tolist(), strict=True)):
        starts[j] = v
        v = pl * v + sl
    return (prod * starts[:, None] + acc).ravel()[:n]


def compliance(nominal_ml: int) -> float:
    """Of a syringe of that size and its line, uL per mmHg."""
    base = SYRINGE_COMPLIANCE_UL_PER_MMHG.get(nominal_ml, 0.3 * nominal_ml / 10)
    return base + LINE_COMPLIANCE_UL_PER_MMHG


def for_syringe(
    syringe: mechanics.Syringe,
    drive: mechanics.Drive,
    fill_nl: int,
    seed: int = 0,
    faults: Iterable[tuple[float, str]] = (),
) -> Plant:
    """The plant of a catalogue syringe on a pump's drive, filled with fill_nl (the stopper
    bottoms out when that much is pushed out), with faults at (s after its start, kind)."""
    num, den = mechanics.nl_per_step(syringe, drive)
    return Plant(
        bore_mm=syringe.diameter_um / 1000,
        nominal_ml=syringe.nominal_ul // 1000,
        um_per_step=drive.lead_um / drive.steps_per_rev,
        nl_per_step=num / den,
        stroke_mm=fill_nl / syringe.nl_per_mm,
        seed=seed,
        faults=[Fault(at, kind) for at, kind in faults],
    )
