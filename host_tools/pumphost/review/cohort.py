"""The study's table from per-patient figures: starting dose, share escalated, escalated
dose, time to first escalation, alarms per patient-day. Used by the cohort page, by
`pumpctl cohort compare` on uploaded records and on the simulation's ground truth alike."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from pumphost.review.analysis import PatientFigures

# Shekhda et al. (2025), the seed study: 18 patients, octreotide CSCI.
STUDY = {
    "patients": "18",
    "starting dose (µg/24 h)": "1632 ± 522",
    "escalated": "about 2/3",
    "escalated dose (µg/24 h)": "2166.7 ± 464",
    "time to first escalation (days)": "not reported",
    "alarms per patient-day": "not reported",
}


@dataclass
class Table:
    n: int
    start_mean: float | None
    start_sd: float | None
    escalated: int
    esc_mean: float | None
    esc_sd: float | None
    esc_days_median: float | None
    esc_days_min: float | None
    esc_days_max: float | None
    alarms: int
    patient_days: float

    @property
    def alarms_per_day(self) -> float | None:
        return self.alarms / self.patient_days if self.patient_days else None

    def rows(self) -> dict[str, str]:
        """The table as shown (the same strings on the page and in the terminal)."""

        def ms(m: float | None, s: float | None) -> str:
            if m is None:
                return "n/a"
            return f"{m:.1f} ± {s:.1f}" if s is not None else f"{m:.1f}"

        esc = (
            f"{self.escalated}/{self.n} ({100 * self.escalated / self.n:.1f} %)"
            if self.n
            else "n/a"
        )
        days = (
            f"{self.esc_days_median:.2f} (range {self.esc_days_min:.2f}-{self.esc_days_max:.2f})"
            if self.esc_days_median is not None
            else "n/a"
        )
        apd = self.alarms_per_day
        return {
            "patients": str(self.n),
            "starting dose (µg/24 h)": ms(self.start_mean, self.start_sd),
            "escalated": esc,
            "escalated dose (µg/24 h)": ms(self.esc_mean, self.esc_sd),
            "time to first escalation (days)": days,
            "alarms per patient-day": (
                f"{apd:.3f} ({self.alarms} in {self.patient_days:.2f} days)"
                if apd is not None
                else "n/a"
            ),
        }


def _mean_sd(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def table(figs: list[PatientFigures]) -> Table:
    starts = [float(f.start_dose) for f in figs if f.start_dose is not None]
    esc = [f for f in figs if f.escalated]
    days = [f.hours_to_escalation / 24 for f in esc if f.hours_to_escalation is not None]
    sm, ss = _mean_sd(starts)
    em, es = _mean_sd([float(f.escalated_dose) for f in esc if f.escalated_dose is not None])
    return Table(
        n=len(figs),
        start_mean=sm,
        start_sd=ss,
        escalated=len(esc),
        esc_mean=em,
        esc_sd=es,
        esc_days_median=statistics.median(days) if days else None,
        esc_days_min=min(days) if days else None,
        esc_days_max=max(days) if days else None,
        alarms=sum(f.alarms for f in figs),
        patient_days=sum(f.days for f in figs),
    )


def side_by_side(columns: dict[str, dict[str, str]]) -> str:
    """A plain-text table: one column per source (uploaded records, ground truth, study)."""
    keys = list(STUDY)
    names = list(columns)
    w0 = max(len(k) for k in keys)
    ws = [max(len(n), *(len(columns[n].get(k, "")) for k in keys)) for n in names]
    line = [f"{'':<{w0}}  " + "  ".join(f"{n:<{w}}" for n, w in zip(names, ws, strict=True))]
    for k in keys:
        cells = "  ".join(f"{columns[n].get(k, ''):<{w}}" for n, w in zip(names, ws, strict=True))
        line.append(f"{k:<{w0}}  {cells}")
    return "\n".join(s.rstrip() for s in line)
