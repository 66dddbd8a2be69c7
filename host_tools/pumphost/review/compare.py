"""The cohort table from stored records next to the simulation's ground truth and the
study's figures (`pumpctl cohort compare`, and the tests)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pumphost.review import analysis, cohort, db, queries
from pumphost.review.simulate import load_truth


def from_records(conn: Connection, site: str, codes: list[str]) -> list[analysis.PatientFigures]:
    sid = queries.site_id(conn, site)
    out = []
    for code in codes:
        pid = conn.execute(
            select(db.patients.c.id).where(
                db.patients.c.site_id == sid, db.patients.c.code == code
            )
        ).scalar()
        recs, _ = queries.patient_records(conn, pid) if pid is not None else ([], [])
        out.append(analysis.figures(analysis.timeline(recs)))
    return out


def truth_figures(directory: Path) -> list[analysis.PatientFigures]:
    return [
        analysis.PatientFigures(
            start_dose=t.start_dose,
            escalated=t.escalated,
            escalated_dose=t.escalated_dose,
            hours_to_escalation=t.hours_to_escalation,
            alarms=t.alarms,
            days=t.days,
            delivered_ug=t.delivered_ug,
        )
        for t in load_truth(directory)
    ]


def compare(conn: Connection, directory: Path, site: str) -> tuple[str, bool]:
    codes = [t.code for t in load_truth(directory)]
    rec = cohort.table(from_records(conn, site, codes)).rows()
    truth = cohort.table(truth_figures(directory)).rows()
    text = cohort.side_by_side(
        {"uploaded records": rec, "ground truth": truth, "study": cohort.STUDY}
    )
    return text, rec == truth
