"""`pumpctl logs export FILE --format csv|jsonl`."""

from __future__ import annotations

import csv
import io
import json

from pumphost.logs.records import Row

FIELDS = ["seq", "utc", "boot", "uptime_s", "event", "code", "a", "b"]


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r.as_dict())
    return buf.getvalue()


def to_jsonl(rows: list[Row]) -> str:
    return "".join(json.dumps({k: r.as_dict()[k] for k in FIELDS}) + "\n" for r in rows)
