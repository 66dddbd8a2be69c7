"""Logins on SQLite and PostgreSQL: wrong passwords lock the user name and the client address
for a while (longer each time), every refused, failed and locking attempt is in the audit
table, a logged-out session cookie no longer works, weak passwords are refused, and the setup
commands answer mistakes with one line, no traceback and no SQL."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import KEY, PASSWORD, Site
from review_web import Client, Server
from sqlalchemy import select

from pumphost.cli import cli
from pumphost.review import db, queries

ATTACKER = {"x-forwarded-for": "203.0.113.9"}  # uvicorn trusts it from 127.0.0.1 (a proxy)


def _actions(server: Server) -> list[tuple[str, int | None, str]]:
    with server.engine.begin() as c:
        rows = c.execute(select(db.audit).where(db.audit.c.patient_id.is_(None))).all()
    return [(r.action, r.user_id, r.detail) for r in rows]


def _post_login(
    c: Client, user: str, password: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    c.get("/login")
    fields = {"csrf": c.csrf, "username": user, "password": password}
    s, text, _ = c.request("/login", urllib.parse.urlencode(fields).encode(), headers)
    return s, text


def test_wrong_passwords_lock_the_user_name_even_for_the_right_one(server: Server) -> None:
    c = Client(server.base)
    for _ in range(5):  # the default policy: 5 failures in 15 min
        s, text = _post_login(c, "alice", "wrong", ATTACKER)
        assert s == 401 and "wrong user name or password" in text
    t0 = time.monotonic()
    s, text = _post_login(c, "alice", PASSWORD, ATTACKER)
    assert s == 429 and "too many failed log-ins" in text
    assert time.monotonic() - t0 < 1  # refused before any password hashing
    assert "alice (reviewer)" not in c.get("/")[1]
    # from another address too: the lock is on the user name
    s, _ = _post_login(Client(server.base), "alice", PASSWORD)
    assert s == 429
    # a user name that does not exist locks the same way (no telling names apart)
    for _ in range(5):
        assert _post_login(c, "nobody", "wrong")[0] == 401
    assert _post_login(c, "nobody", "wrong")[0] == 429
    # bob is not locked (127.0.0.1 has 5 failures of the 20 that lock an address)
    assert Client(server.base).login("bob", PASSWORD) == 200
    acts = _actions(server)
    assert [a for a, _, d in acts if "'alice'" in d] == ["login failed"] * 5 + [
        "login locked",
        "login throttled",
        "login throttled",
    ]
    assert any("203.0.113.9" in d for a, _, d in acts if a == "login locked")
    assert [a for a, u, d in acts if "'nobody'" in d][-2:] == ["login locked", "login throttled"]
    assert all(u is None for a, u, d in acts if "'nobody'" in d)
    assert all(u is not None for a, u, d in acts if "'alice'" in d or "'bob'" in d)


def test_an_address_with_many_failures_is_locked_whoever_it_tries(site: Site) -> None:
    from pumphost.review import logins

    policy = logins.Policy(address_failures=3, lockout_s=1.0)
    with Server(site.url, policy=policy) as server:
        c = Client(server.base)
        for name in ("alice", "bob", "admin"):
            assert _post_login(c, name, "wrong", ATTACKER)[0] == 401
        assert _post_login(c, "alice", PASSWORD, ATTACKER)[0] == 429
        assert Client(server.base).login("alice", PASSWORD) == 200  # another address
        time.sleep(1.1)  # the lock ends
        s, text = _post_login(c, "bob", PASSWORD, ATTACKER)
        assert s == 200 and "bob (reviewer)" in text
        acts = [a for a, _, d in _actions(server) if "203.0.113.9" in d]
        assert acts == ["login failed"] * 3 + ["login locked", "login throttled", "login"]


def test_the_lockout_logic_with_the_default_policy(db_url: str) -> None:
    """5 failures per user name or 20 per address in 15 min lock for 15 min, doubling with
    each further lock up to a day; a success clears the user name's count; a quiet window
    after a lock forgets it."""
    from pumphost.review import logins

    eng = db.engine(db_url)
    db.migrate(eng)
    p = logins.Policy()
    assert (p.account_failures, p.address_failures, p.window_s, p.lockout_s) == (5, 20, 900, 900)

    def attempt(name: str, ok: bool, now: float, addr: str = "") -> float | None:
        """None: allowed (then succeeded or failed as asked); else the lock's end."""
        addr = addr or f"address of {name}"  # one address per user name unless given
        with eng.begin() as c:
            refused = logins.begin(c, p, name, addr, now)
        if refused is not None:
            return refused
        with eng.begin() as c:
            logins.finish(c, p, name, addr, None, ok, now)
        return None

    t = 1_000_000.0
    for i in range(5):
        assert attempt("alice", False, t + i) is None
    assert attempt("alice", True, t + 10) == t + 4 + 900  # locked, right password or not
    assert attempt("bob", True, t + 10) is None  # another user name
    for i in range(5):  # straight after the lock: the next lock is twice as long
        assert attempt("alice", False, t + 905 + i) is None
    assert attempt("alice", True, t + 910) == t + 909 + 1800
    # a success clears the count: 4 failures, a success, 4 more: never locked
    for i in range(4):
        assert attempt("bob", False, t + 20 + i) is None
    assert attempt("bob", True, t + 30) is None
    for i in range(4):
        assert attempt("bob", False, t + 40 + i) is None
    assert attempt("bob", True, t + 50) is None
    # failures spread over more than the window never lock
    for i in range(12):
        assert attempt("carol", False, t + i * 250) is None
    # a quiet window after a lock forgets the doubling
    t2 = t + 909 + 1800 + 901
    for i in range(5):
        assert attempt("alice", False, t2 + i) is None
    assert attempt("alice", True, t2 + 10) == t2 + 4 + 900
    # the address: 20 failures over any user names
    for i in range(20):
        assert attempt(f"u{i}", False, t + i, "10.9.9.9") is None
    assert attempt("bob", True, t + 30, "10.9.9.9") == t + 19 + 900
    # the doubling stops at max_lockout_s
    assert p.lock_s(1) == 900 and p.lock_s(2) == 1800 and p.lock_s(40) == p.max_lockout_s
    assert p.max_lockout_s == 86400
    # an admin unlocks a user name
    with eng.begin() as c:
        assert logins.unlock(c, "alice") == 1
    assert attempt("alice", True, t2 + 11) is None
    eng.dispose()


def test_a_logged_out_session_cookie_no_longer_works(server: Server) -> None:
    c = Client(server.base)
    assert c.login("alice", PASSWORD) == 200
    cookie = "; ".join(f"{k.name}={k.value}" for k in c.jar)
    copy = Client(server.base)
    s, text, _ = copy.request("/", headers={"cookie": cookie})
    assert "alice (reviewer)" in text  # the copied cookie works while the session lasts
    assert c.post("/logout", {})[0] == 200
    s, text, _ = copy.request("/", headers={"cookie": cookie})
    assert "alice (reviewer)" not in text and "Log in" in text
    s, text, _ = copy.request("/api/cohort", headers={"cookie": cookie})
    assert "alice" not in text
    assert ("logout", "alice") in {(a, d.split("'")[1]) for a, _, d in _actions(server)}


def test_weak_passwords_are_refused(db_url: str) -> None:
    from pumphost.review import auth

    assert auth.password_problem("a", "weak") is not None
    assert auth.password_problem("x" * 11 + "y", "weak") is not None  # too few characters
    assert auth.password_problem("weakling-on-duty", "weakling") is not None  # the name
    assert auth.password_problem("password1234", "zed") is not None  # a common one
    assert auth.password_problem(PASSWORD, "alice") is None
    eng = db.engine(db_url)
    db.migrate(eng)
    with eng.begin() as c, pytest.raises(ValueError, match="at least 12 characters"):
        queries.add_user(c, "weak", "a", "reviewer", [])
    eng.dispose()


def _pumpctl(*args: str, password: str | None = None) -> tuple[int, str]:
    env = {"PUMPREVIEW_PASSWORD": password} if password else {}
    r = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.output


def _one_clear_line(out: str, *want: str) -> None:
    assert len(out.strip().splitlines()) == 1, out
    for w in want:
        assert w in out, out
    for bad in ("Traceback", "INSERT", "argon2", "[SQL", "token_hash", "sqlalche.me"):
        assert bad not in out, out


def test_setup_commands_refuse_mistakes_with_one_line(db_url: str, tmp_path: Path) -> None:
    eng = db.engine(db_url)
    db.migrate(eng)
    eng.dispose()
    dbo = ("--db", db_url)
    assert _pumpctl("review", "add-site", "east", *dbo)[0] == 0
    code, out = _pumpctl("review", "add-user", "weak", "--password", "a", *dbo)
    assert code == 2
    _one_clear_line(out, "add-user", "at least 12 characters")
    assert _pumpctl("review", "add-user", "carol", *dbo, password=PASSWORD)[0] == 0
    code, out = _pumpctl("review", "add-user", "carol", *dbo, password=PASSWORD + "!")
    assert code == 2
    _one_clear_line(out, "add-user", "carol", "already exists")
    code, out = _pumpctl("review", "add-site", "east", *dbo)
    assert code == 2
    _one_clear_line(out, "add-site", "east", "already exists")
    code, out = _pumpctl("review", "add-device", "P-1", "--site", "east", "--key", "00", *dbo)
    assert code == 2
    _one_clear_line(out, "add-device", "16 to 64 bytes")
    code, out = _pumpctl("review", "add-device", "P-1", "--site", "east", "--key", "zz", *dbo)
    assert code == 2
    _one_clear_line(out, "add-device", "hex")
    code, out = _pumpctl("review", "add-device", "P-1", "--site", "east", "--key", KEY.hex(), *dbo)
    assert code == 0
    code, out = _pumpctl("review", "add-device", "P-1", "--site", "east", *dbo)
    assert code == 2
    _one_clear_line(out, "add-device", "P-1", "already")
    code, out = _pumpctl("review", "unlock", "carol", *dbo)
    assert code == 0 and "carol" in out
    with db.engine(db_url).connect() as c:
        assert c.execute(select(db.users.c.username)).scalars().all() == ["carol"]


def test_enrolling_a_cohort_twice_is_refused_and_changes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    d = tmp_path / "cohort"
    d.mkdir()
    pts = [
        {
            "code": f"P-{i}",
            "serial": f"SIM-{i}",
            "file": f"SIM-{i}.plog",
            "start_dose": 1632,
            "escalated": False,
            "escalated_dose": None,
            "hours_to_escalation": None,
            "alarms": 0,
            "alarm_kinds": [],
            "days": 1.0,
            "delivered_ug": 1632.0,
            "pauses": 0,
            "syringe_changes": 0,
        }
        for i in (1, 2)
    ]
    (d / "truth.json").write_text(json.dumps({"patients": pts}))
    assert _pumpctl("cohort", "enrol", str(d), "--db", db_url)[0] == 0
    tokens = (d / "tokens.json").read_text()
    code, out = _pumpctl("cohort", "enrol", str(d), "--db", db_url)
    assert code == 2
    _one_clear_line(out, "cohort enrol", "SIM-1", "already")
    assert (d / "tokens.json").read_text() == tokens  # the first tokens still work
    with db.engine(db_url).connect() as c:
        assert len(c.execute(select(db.devices)).all()) == 2
        assert len(c.execute(select(db.assignments)).all()) == 2


def test_the_migration_keeps_an_existing_audit_trail(db_url: str) -> None:
    """A database made before the logins tables (revision 0001) upgrades in place."""
    import datetime as dt

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    eng = db.engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with eng.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
    with eng.begin() as c:
        queries.add_site(c, "north", "North", "UTC")
        uid = c.execute(
            db.users.insert().values(username="old", pw_hash="x", role="admin")
        ).inserted_primary_key[0]
        pid = c.execute(db.patients.insert().values(site_id=1, code="P1")).inserted_primary_key[0]
        at = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
        c.execute(db.audit.insert().values(at=at, user_id=uid, action="view", patient_id=pid,
                                           detail="before"))  # fmt: skip
    db.migrate(eng)
    with eng.begin() as c:
        assert queries.audit_count(c, pid) == 1
        c.execute(db.audit.insert().values(at=at, user_id=None, action="login failed",
                                           detail="user 'ghost' from 10.0.0.1"))  # fmt: skip
        names = set(inspect(c).get_table_names())
        assert {"login_throttle", "sessions"} <= names
        assert "ix_audit_patient" in {i["name"] for i in inspect(c).get_indexes("audit")}
    with eng.begin() as c, pytest.raises(Exception, match="(?i)foreign key"):
        c.execute(db.audit.insert().values(at=at, user_id=999, action="x", detail=""))
    eng.dispose()
