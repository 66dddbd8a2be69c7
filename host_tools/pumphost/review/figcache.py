"""Per-patient cohort figures, kept in memory and recomputed only when the patient's data
changed (a new upload to one of their pumps, a changed assignment): the cohort view of 100
patients x 30 days then costs queries, not 4 million records through the timeline."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pumphost.review import analysis, db, queries


def version(conn: Connection, pid: int) -> tuple[object, ...]:
    """Changes whenever what the patient's figures are made of may have changed."""
    a = db.assignments
    asg = conn.execute(
        select(a.c.id, a.c.device_id, a.c.start_s, a.c.end_s)
        .where(a.c.patient_id == pid)
        .order_by(a.c.id)
    ).all()
    last = conn.execute(
        select(func.max(db.uploads.c.id)).where(
            db.uploads.c.device_id.in_([r.device_id for r in asg])
        )
    ).scalar()
    return (last, tuple(tuple(r) for r in asg))


class FigureCache:
    def __init__(self) -> None:
        self._d: dict[int, tuple[tuple[object, ...], analysis.PatientFigures | None]] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, pid: int) -> analysis.PatientFigures | None:
        """The patient's figures, None when no record is uploaded yet."""
        key = version(conn, pid)
        with self._lock:
            hit = self._d.get(pid)
        if hit is not None and hit[0] == key:
            return hit[1]
        recs, _ = queries.patient_records(conn, pid)
        figs = analysis.figures(analysis.timeline(recs)) if recs else None
        with self._lock:
            self._d[pid] = (key, figs)
        return figs

    def warm(self, conn: Connection, device_id: int) -> None:
        """After an upload: the figures of the patients that pump is assigned to."""
        q = select(db.assignments.c.patient_id).where(db.assignments.c.device_id == device_id)
        for pid in set(conn.execute(q).scalars()):
            self.get(conn, pid)
