"""The review pages on SQLite and PostgreSQL: the cohort table reproduces the simulated
ground truth, patient timelines show what was delivered, access stops at the site's edge
and is audited, and hostile text is escaped or refused."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from conftest import PASSWORD, Site, enrol, setup_sites
from review_web import Client, Server
from sqlalchemy import func, select

from pumphost.logs import synth
from pumphost.review import cohort, compare, db, queries
from pumphost.review import simulate as sim
from pumphost.review.client import upload


def _cells(html: str, table_id: str) -> dict[str, str]:
    body = html[html.index(f'id="{table_id}"') :]
    body = body[: body.index("</table>")]
    return dict(re.findall(r'data-key="([^"]+)">([^<]*)</td>', body))


def test_cohort_view_reproduces_the_ground_truth(
    db_url: str, cohort_dir: Path, tmp_path: Path
) -> None:
    site = setup_sites(db_url)
    tokens = enrol(db_url, cohort_dir)
    truth = sim.load_truth(cohort_dir)
    with Server(site.url) as s:
        for t in truth:
            r = upload(cohort_dir / t.file, s.base, tokens[t.serial])
            assert r["new"] == r["entries"]
        c = Client(s.base)
        c.login("alice", PASSWORD)
        status, page = c.get("/cohort?site=1")
        assert status == 200
        with s.engine.begin() as conn:
            text, same = compare.compare(conn, cohort_dir, "north")
    print("\n" + text)
    expected = cohort.table(compare.truth_figures(cohort_dir)).rows()
    assert same
    assert _cells(page, "cohort-table") == {k: v for k, v in expected.items()}
    # within sampling error of the study (moment-matched draws: close by construction)
    tab = cohort.table(compare.truth_figures(cohort_dir))
    assert tab.n == 18 and tab.escalated == 12
    assert abs(tab.start_mean - 1632) < 2 * 522 / 18**0.5
    assert abs(tab.esc_mean - 2166.7) < 2 * 464 / 12**0.5
    assert tab.alarms >= 1  # the occlusion at least


def test_patient_timeline_shows_what_was_delivered(
    db_url: str, cohort_dir: Path, tmp_path: Path
) -> None:
    site = setup_sites(db_url)
    truth = sim.load_truth(cohort_dir)
    t = next(x for x in truth if x.alarms) if any(x.alarms for x in truth) else truth[0]
    eng = db.engine(db_url)
    with eng.begin() as conn:
        tok = queries.add_device(conn, t.serial, "north", "sim")
        pid = queries.assign(conn, t.serial, t.code)
    with Server(site.url) as s:
        upload(cohort_dir / t.file, s.base, tok)
        c = Client(s.base)
        c.login("alice", PASSWORD)
        status, page = c.get(f"/patients/{pid}")
        assert status == 200
        assert re.search(r'id="start-dose">(\d+)<', page).group(1) == str(t.start_dose)
        delivered = float(re.search(r'id="delivered">([\d.]+)<', page).group(1))
        assert abs(delivered - t.delivered_ug) < 0.05
        assert re.search(r'id="alarms">(\d+)<', page).group(1) == str(t.alarms)
        assert page.count("<svg") == 3
        status, text = c.get(f"/patients/{pid}/days.csv")
        days = list(csv.DictReader(io.StringIO(text)))
        assert len(days) == int(t.days)
        assert abs(sum(float(d["delivered_ug"]) for d in days) - t.delivered_ug) < 0.5
        with s.engine.begin() as conn:
            assert queries.audit_count(conn, pid) == 2  # the page and the CSV


def test_another_sites_patient_is_not_shown(server: Server, site: Site, tmp_path: Path) -> None:
    p = tmp_path / "s.plog"
    from pumphost.logs import plogfile

    plogfile.write(p, synth.octreotide(600), plogfile.Ident("S-1"))
    upload(p, server.base, site.tokens["S-1"])
    with server.engine.begin() as conn:
        south = conn.execute(
            select(db.patients.c.id).where(db.patients.c.code == "S-001")
        ).scalar_one()
    alice, bob = Client(server.base), Client(server.base)
    alice.login("alice", PASSWORD)
    bob.login("bob", PASSWORD)
    s, text = alice.get(f"/patients/{south}")
    assert s == 404 and "S-001" not in text
    s, text = alice.get(f"/patients/{south}/days.csv")
    assert s == 404
    s, text = alice.get("/cohort")
    assert "S-001" not in text and "N-001" in text
    s, text = alice.get("/")
    assert "S-1" not in text and "N-1" in text
    s, text = bob.get(f"/patients/{south}")
    assert s == 200 and "S-001" in text
    with server.engine.begin() as conn:
        assert queries.audit_count(conn, south) == 1  # bob's view; alice saw nothing


def test_login_refuses_wrong_passwords_and_needs_csrf(server: Server) -> None:
    c = Client(server.base)
    c.get("/login")
    s, text = c.post("/login", {"username": "alice", "password": "wrong"})
    assert s == 401 and "wrong user name or password" in text
    s, text = c.post("/login", {"username": "' OR '1'='1", "password": "' OR '1'='1"})
    assert s == 401
    s, text = c.post("/login", {"username": "alice", "password": PASSWORD}, csrf=False)
    assert s == 403
    assert c.login("alice", PASSWORD) == 200
    s, text = c.get("/")
    assert "alice (reviewer)" in text


def test_hostile_text_is_escaped_and_sql_metacharacters_are_data(
    db_url: str, tmp_path: Path
) -> None:
    label = "<script>alert('x')</script>\"'; DROP TABLE records; --"
    site = setup_sites(db_url, label=label)
    code = "P'); DELETE FROM audit; --<b>"
    eng = db.engine(db_url)
    with eng.begin() as conn:
        pid = queries.assign(conn, "N-1", code)
    with Server(site.url) as s:
        p = tmp_path / "x'; DROP TABLE uploads; --<i>.plog"
        from pumphost.logs import plogfile

        plogfile.write(p, synth.octreotide(300), plogfile.Ident("N-1"))
        upload(p, s.base, site.tokens["N-1"])
        c = Client(s.base)
        c.login("alice", PASSWORD)
        for path in ("/", f"/patients/{pid}", "/cohort"):
            status, page = c.get(path)
            assert status == 200
            assert "<script>alert" not in page and "<b>" not in page and "<i>" not in page
        status, page = c.get("/")
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
        assert "x&#39;; DROP TABLE uploads; --&lt;i&gt;.plog" in page
        status, page = c.get(f"/patients/{pid}")
        assert "P&#39;); DELETE FROM audit; --&lt;b&gt;" in page
        for bad in ("/cohort?p=1%20OR%201=1", "/cohort?site=1;DROP%20TABLE%20sites"):
            status, page = c.get(bad)
            assert status == 400 and "whole numbers" in page
        status, _ = c.get("/patients/1%20OR%201=1")
        assert status == 404
        with s.engine.begin() as conn:  # every table still there, the text stored as given
            n = conn.execute(select(func.count()).select_from(db.records)).scalar_one()
            assert n == 300
            got = conn.execute(select(db.devices.c.label).where(db.devices.c.serial == "N-1"))
            assert got.scalar_one() == label
            assert conn.execute(select(func.count()).select_from(db.audit)).scalar_one() >= 2
        status, text = c.get("/api/cohort")
        assert code in [p["code"] for p in json.loads(text)["patients"]]
