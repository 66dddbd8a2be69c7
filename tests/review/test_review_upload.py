"""Uploads through the real HTTP API, on SQLite and PostgreSQL: stored once, verified whole,
refused with a clear message and nothing stored when anything is wrong."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from conftest import KEY, PASSWORD, Site
from review_web import Client, Server
from sqlalchemy import func, select

from pump import events, logrec
from pump.logring import LogRing
from pumphost.logs import plogfile, synth
from pumphost.logs.nor import NorFlash
from pumphost.review import db, ingest
from pumphost.review.client import UploadFailed, upload

ENTRY = logrec.ENTRY


def plog(tmp: Path, entries: bytes, name: str = "pump.plog", serial: str = "N-1") -> Path:
    """A pulled log of the pump `serial` (the log names its pump)."""
    p = tmp / name
    plogfile.write(p, entries, plogfile.Ident(serial))
    return p


def counts(s: Server) -> tuple[int, int]:
    with s.engine.begin() as c:
        recs = c.execute(select(func.count()).select_from(db.records)).scalar_one()
        ups = c.execute(select(func.count()).select_from(db.uploads)).scalar_one()
    return recs, ups


def keyed_log(n: int = 300) -> bytes:
    """A log written by the firmware's own ring with an HMAC key (seals every 64 records)."""
    ring = LogRing(NorFlash(8 * 4096), 0, key=KEY, log_id=7)
    ring.set_utc(1_800_000_000)
    for i in range(n):
        ring.add(i * 1_000_000, events.DELIVERED, i * 2000, i * 48)
        ring.service(i * 1_000_000)
    out = bytearray()
    seq = 0
    while page := ring.read(seq, 128):
        out += page
        seq = int.from_bytes(page[-ENTRY : -ENTRY + 4], "little") + 1
    return bytes(out)


def test_upload_is_idempotent_and_a_longer_pull_adds_only_the_rest(
    server: Server, site: Site, tmp_path: Path
) -> None:
    entries = synth.octreotide(3000)
    first = plog(tmp_path, entries[: 1000 * ENTRY], "first.plog")
    whole = plog(tmp_path, entries, "whole.plog")
    tok = site.tokens["N-1"]
    r1 = upload(first, server.base, tok)
    assert (r1["new"], r1["first_seq"], r1["last_seq"]) == (1000, 0, 999)
    again = upload(first, server.base, tok)
    assert (again["new"], again["duplicates"]) == (0, 1000)
    r2 = upload(whole, server.base, tok)
    assert (r2["new"], r2["duplicates"]) == (2000, 1000)
    recs, ups = counts(server)
    assert recs == 3000 and ups == 3
    # the stored bytes are the uploaded ones, record by record
    with server.engine.begin() as c:
        raw = c.execute(select(db.records.c.raw).order_by(db.records.c.seq)).scalars().all()
    assert b"".join(bytes(r) for r in raw) == b"".join(
        entries[i + 4 : i + ENTRY] for i in range(0, len(entries), ENTRY)
    )


def test_the_same_seqs_from_another_log_are_refused(
    server: Server, site: Site, tmp_path: Path
) -> None:
    upload(plog(tmp_path, synth.octreotide(500)), server.base, site.tokens["N-1"])
    other = synth.octreotide(500, utc0=6 * 365 * 86400)  # same seqs, other times
    with pytest.raises(UploadFailed, match="seq 0 differs from the record already stored"):
        upload(plog(tmp_path, other, "other.plog"), server.base, site.tokens["N-1"])
    assert counts(server) == (500, 1)


def test_bad_uploads_are_refused_saying_where_and_store_nothing(
    server: Server, site: Site, tmp_path: Path
) -> None:
    entries = bytearray(synth.octreotide(1000))
    tok = site.tokens["N-1"]
    # a record changed after the pull (CRC no longer matches): named by its seq
    bad = bytearray(entries)
    bad[500 * ENTRY + 8] ^= 0x01
    with pytest.raises(UploadFailed, match=r"422: log NOT VERIFIED.*seq 500"):
        upload(plog(tmp_path, bytes(bad), "tampered.plog"), server.base, tok)
    # a copy cut short inside an entry
    whole = plog(tmp_path, bytes(entries), "whole.plog").read_bytes()
    cut = tmp_path / "cut.plog"
    cut.write_bytes(whole[: 32 + 700 * ENTRY + 7])
    with pytest.raises(UploadFailed, match="truncated"):
        upload(cut, server.base, tok)
    # not a log at all, and an empty body
    junk = tmp_path / "junk.plog"
    junk.write_bytes(b"<html>hello</html>")
    with pytest.raises(UploadFailed, match="not a pulled log"):
        upload(junk, server.base, tok)
    # over the size limit: refused before it is read
    huge = tmp_path / "huge.plog"
    huge.write_bytes(plogfile.header() + bytes(ingest.MAX_BYTES))
    with pytest.raises(UploadFailed, match="413"):
        upload(huge, server.base, tok)
    # a wrong or missing token
    good = plog(tmp_path, bytes(entries))
    with pytest.raises(UploadFailed, match="401: unknown or missing device token"):
        upload(good, server.base, tok + "x")
    with pytest.raises(UploadFailed, match="401"):
        upload(good, server.base, "")
    assert counts(server) == (0, 0)
    assert upload(good, server.base, tok)["new"] == 1000  # the same service still takes logs


def test_the_hmac_chain_is_checked_with_the_pumps_key(
    server: Server, site: Site, tmp_path: Path
) -> None:
    entries = bytearray(keyed_log())
    # A forger who recomputes the CRC: only the seal catches it.
    off = 100 * ENTRY
    seq = int.from_bytes(entries[off : off + 4], "little")
    code, x, a, b = logrec.unpack(entries, off + 4)
    assert code == events.DELIVERED
    rec = bytearray(16)
    logrec.pack(rec, 0, bytearray(12), seq, code, x, a + 1000, b)
    forged = bytearray(entries)
    forged[off + 4 : off + ENTRY] = rec
    tok = site.tokens["N-KEY"]
    with pytest.raises(UploadFailed, match="seal at seq .* does not match"):
        upload(plog(tmp_path, bytes(forged), "forged.plog", "N-KEY"), server.base, tok)
    assert counts(server) == (0, 0)
    # the same forgery passes a pump without a key (CRCs only): the key is what catches it
    r = upload(plog(tmp_path, bytes(entries), serial="N-KEY"), server.base, tok)
    assert r["new"] == len(entries) // ENTRY


def test_the_upload_form_needs_a_login_a_csrf_token_and_one_of_your_pumps(
    server: Server, site: Site, tmp_path: Path
) -> None:
    data = plog(tmp_path, synth.octreotide(400)).read_bytes()
    anon = Client(server.base)
    s, text = anon.get("/upload")
    assert s == 200 and "Log in" in text  # redirected to the login page
    c = Client(server.base)
    assert c.login("alice", PASSWORD) == 200
    with server.engine.begin() as conn:
        ids = dict(conn.execute(select(db.devices.c.serial, db.devices.c.id)).all())
    c.get("/upload")
    good_csrf = c.csrf
    c.csrf = "forged"
    s, text = c.post_file("/upload", {"device": str(ids["N-1"])}, "a.plog", data)
    assert s == 403 and "CSRF" in text
    c.csrf = good_csrf
    s, text = c.post_file("/upload", {"device": str(ids["S-1"])}, "a.plog", data)
    assert s == 400 and "choose one of your sites" in text  # alice is not at south
    s, text = c.post_file("/upload", {"device": str(ids["N-1"])}, "a.plog", data)
    assert s == 200 and "Stored 400 new records from N-1" in text
    assert counts(server) == (400, 1)


def test_api_cohort_needs_a_session(server: Server) -> None:
    req = urllib.request.Request(server.base + "/api/cohort")
    with urllib.request.urlopen(req, timeout=30) as r:  # redirected to the login page
        assert b"Log in" in r.read()
    c = Client(server.base)
    c.login("admin", PASSWORD)
    s, text = c.get("/api/cohort")
    assert s == 200 and json.loads(text)["table"]["patients"] == "0"  # none uploaded yet
