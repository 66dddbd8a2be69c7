"""Fixtures of the review service's tests: both databases (SQLite file, throwaway
PostgreSQL), a running service, a simulated cohort, sites with users and pumps.

Under `make test-review` (PUMP_REVIEW_REQUIRE=1) nothing may skip: a missing PostgreSQL or
Chromium fails the run instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from review_web import Server

from pumphost.review import db, queries
from pumphost.review import simulate as sim
from pumphost.review.pgtemp import Cluster, bindir

REQUIRE = os.environ.get("PUMP_REVIEW_REQUIRE") == "1"
OUT = Path(__file__).resolve().parents[2] / ".cache" / "test-output" / "review"
PASSWORD = "correct horse battery"


def need(ok: bool, what: str) -> None:
    """Skip loudly, or fail under make test-review, when a system part is missing."""
    if ok:
        return
    if REQUIRE:
        pytest.fail(f"{what} (make test-review installs it)")
    pytest.skip(f"NOT RUN: {what}; `make test-review` installs it and runs this")


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster | None]:
    if bindir() is None:
        yield None
        return
    with Cluster() as c:
        yield c


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg: Cluster | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.sqlite3'}"
    need(pg is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    assert pg is not None
    return pg.new_database()


@dataclass
class Site:
    url: str
    tokens: dict[str, str]  # pump serial -> upload token


def setup_sites(url: str, label: str = "bedside pump") -> Site:
    """Two sites, an admin, a reviewer at each, three pumps (one with an HMAC key)."""
    eng = db.engine(url)
    db.migrate(eng)
    with eng.begin() as c:
        queries.add_site(c, "north", "North hospital", "Europe/London")
        queries.add_site(c, "south", "South hospital", "America/New_York")
        queries.add_user(c, "admin", PASSWORD, "admin", [])
        queries.add_user(c, "alice", PASSWORD, "reviewer", ["north"])
        queries.add_user(c, "bob", PASSWORD, "reviewer", ["south"])
        tokens = {
            "N-1": queries.add_device(c, "N-1", "north", label),
            "N-KEY": queries.add_device(c, "N-KEY", "north", "keyed", KEY.hex()),
            "S-1": queries.add_device(c, "S-1", "south", "south pump"),
        }
        queries.assign(c, "N-1", "N-001")
        queries.assign(c, "N-KEY", "N-002")
        queries.assign(c, "S-1", "S-001")
    eng.dispose()
    return Site(url, tokens)


KEY = bytes(range(32))


@pytest.fixture
def site(db_url: str) -> Site:
    return setup_sites(db_url)


@pytest.fixture
def server(site: Site) -> Iterator[Server]:
    with Server(site.url) as s:
        yield s


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """18 patients, 2 days each, one with an occlusion from the plant model (about 30 s on
    2 cores): the same generator as `pumpctl cohort simulate`."""
    d = tmp_path_factory.mktemp("cohort")
    sim.simulate(18, 2, 11, d, plant_alarms=1)
    return d


def enrol(url: str, directory: Path, site: str = "north") -> dict[str, str]:
    eng = db.engine(url)
    tokens = {}
    with eng.begin() as c:
        for t in sim.load_truth(directory):
            tokens[t.serial] = queries.add_device(c, t.serial, site, "simulated")
            queries.assign(c, t.serial, t.code)
    eng.dispose()
    return tokens
