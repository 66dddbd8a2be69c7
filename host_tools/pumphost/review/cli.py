"""`pumpctl review ...` (the service and its setup), `pumpctl cohort ...` (the simulated
cohort) and `pumpctl logs upload`. Heavy imports stay inside the commands: pumpctl starts
fast for everything else."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

DB_HELP = "Database URL (sqlite:///FILE or postgresql://...); default $PUMPREVIEW_DB or "
DB_DEFAULT = "sqlite:///pumpreview.sqlite3"


def _db(url: str | None) -> str:
    return url or os.environ.get("PUMPREVIEW_DB") or DB_DEFAULT


def _engine(url: str | None):  # noqa: ANN202
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from pumphost.review import db

    try:
        eng = db.engine(_db(url))
        db.migrate(eng)
    except (ArgumentError, SQLAlchemyError) as e:
        _fail(f"database {_db(url)}: {_why(e)}")
    return eng


def _fail(msg: str, code: int = 2) -> NoReturn:
    click.echo(f"pumpctl: {msg}", err=True)
    sys.exit(code)


def _why(e: Exception) -> str:
    """One line: a database error without its SQL and parameters (hashes, tokens)."""
    if isinstance(e, OSError) and e.strerror:  # not "[Errno 2] ..."
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _expected(e: Exception) -> bool:
    """A mistake in what was given or in the surroundings, not in pumpctl: a file that is
    missing or unwritable, a refused value, an unknown name, a database that will not open.
    (A KeyError names only its key, and is a bug more often than not.)"""
    sa = sys.modules.get("sqlalchemy.exc")
    return (isinstance(e, (OSError, ValueError, LookupError)) and not isinstance(e, KeyError)) or (
        sa is not None and isinstance(e, sa.SQLAlchemyError)
    )


class OneLineErrors(click.Group):
    """A group whose commands end an expected error with one line naming the command, and
    exit 2, never a traceback (commands still say more where they know more)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as e:
            if not _expected(e):
                raise
            _fail(f"{ctx.info_name} {ctx.invoked_subcommand}: {_why(e)}")


db_option = click.option("--db", "db_url", default=None, help=DB_HELP + DB_DEFAULT)


@click.group(cls=OneLineErrors)
def review() -> None:
    """The log review service: serve it, and set up sites, users, pumps and patients."""


@review.command()
@db_option
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
def serve(db_url: str | None, port: int, host: str) -> None:
    """Run the web service (migrates the database first)."""
    import uvicorn

    from pumphost.review.app import create_app

    app = create_app(_engine(db_url))  # a database that will not open: one line, exit 2
    click.echo(f"review service on http://{host}:{port}/ (database {_db(db_url)})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@review.command("add-site")
@db_option
@click.argument("code")
@click.option("--name", default=None)
@click.option("--tz", default="UTC", show_default=True, help="IANA zone for local times.")
def add_site(db_url: str | None, code: str, name: str | None, tz: str) -> None:
    """A site (a hospital or a trial centre)."""
    from pumphost.review import queries

    with _engine(db_url).begin() as conn:
        try:
            queries.add_site(conn, code, name or code, tz)
        except Exception as e:  # noqa: BLE001 - unknown zone, duplicate code: say which
            _fail(f"add-site: {_why(e)}")
    click.echo(f"site {code} ({tz})")


@review.command("add-user")
@db_option
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "reviewer"]), default="reviewer")
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several).")
@click.password_option(envvar="PUMPREVIEW_PASSWORD")
def add_user(
    db_url: str | None, username: str, role: str, sites: tuple[str], password: str
) -> None:
    """A person who logs in (password from the prompt or $PUMPREVIEW_PASSWORD)."""
    from pumphost.review import queries

    with _engine(db_url).begin() as conn:
        try:
            queries.add_user(conn, username, password, role, list(sites))
        except Exception as e:  # noqa: BLE001
            _fail(f"add-user: {_why(e)}")
    click.echo(f"user {username} ({role}{', sites ' + ', '.join(sites) if sites else ''})")


@review.command("add-device")
@db_option
@click.argument("serial")
@click.option("--site", required=True)
@click.option("--label", default="")
@click.option("--key", "key_hex", default=None, help="The pump's HMAC key (hex), if it has one.")
@click.option(
    "--uid",
    default=None,
    help="The board's unique id (16 hex digits, `pumpctl --port PORT serial`), if known; else "
    "the first log naming both serial and board makes it known.",
)
def add_device(
    db_url: str | None,
    serial: str,
    site: str,
    label: str,
    key_hex: str | None,
    uid: str | None,
) -> None:
    """A pump by the serial it keeps (1-12 letters, digits, '.', '_', '-'; its logs name it,
    and uploads under its token must); prints its upload token (shown once: the service
    keeps only a hash)."""
    from pumphost.review import queries

    with _engine(db_url).begin() as conn:
        try:
            token = queries.add_device(conn, serial, site, label, key_hex, uid)
        except Exception as e:  # noqa: BLE001
            _fail(f"add-device: {_why(e)}")
    click.echo(token)


@review.command()
@db_option
@click.argument("username", required=False)
@click.option("--address", default=None, help="A client address to unlock as well (or alone).")
def unlock(db_url: str | None, username: str | None, address: str | None) -> None:
    """Clear a user name's (or a client address's) failed logins and lock."""
    from pumphost.review import logins

    if username is None and address is None:
        _fail("unlock: give a user name, --address, or both")
    with _engine(db_url).begin() as conn:
        n = logins.unlock(conn, username, address)
    what = " and ".join(x for x in (username, address) if x is not None)
    click.echo(f"{what}: unlocked ({n} failed-login records cleared)")


def _when(text: str | None) -> int | None:
    if text is None:
        return None
    t = dt.datetime.fromisoformat(text)
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp())


@review.command()
@db_option
@click.argument("serial")
@click.argument("patient")
@click.option("--from", "start", default=None, help="ISO time (UTC unless given); default open.")
@click.option("--to", "end", default=None, help="ISO time; default open.")
def assign(
    db_url: str | None, serial: str, patient: str, start: str | None, end: str | None
) -> None:
    """Assign a pump to a pseudonymous patient code for a period (no names)."""
    from pumphost.review import queries

    with _engine(db_url).begin() as conn:
        try:
            queries.assign(conn, serial, patient, _when(start), _when(end))
        except Exception as e:  # noqa: BLE001
            _fail(f"assign: {_why(e)}")
    click.echo(f"{serial} -> {patient}")


@click.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--server", required=True, help="The review service, e.g. http://127.0.0.1:8000")
@click.option("--token", required=True, envvar="PUMP_UPLOAD_TOKEN", help="The pump's token.")
def upload(file: Path, server: str, token: str) -> None:
    """Upload a pulled log to the review service (re-uploading stores nothing twice)."""
    from pumphost.review.client import BadServer, UploadFailed
    from pumphost.review.client import upload as do_upload

    try:
        r = do_upload(file, server, token)
    except UploadFailed as e:
        _fail(f"logs upload: {e}", 2 if isinstance(e, BadServer) else 1)
    click.echo(
        f"{file}: {r['new']} new records stored for {r['device']} ({r['entries']} in the file, "
        f"{r['duplicates']} already there; seq {r['first_seq']}..{r['last_seq']})"
    )
    for note in r.get("notes") or []:  # type: ignore[union-attr]
        click.echo(f"  note: {note}")


@click.group(cls=OneLineErrors)
def cohort() -> None:
    """A simulated cohort: simulate it, enrol its pumps, upload it, compare with the truth."""


@cohort.command()
@click.option("--patients", default=18, show_default=True)
@click.option("--days", default=7, show_default=True, help="Simulated days per patient.")
@click.option("--seed", default=1, show_default=True)
@click.option("--plant-alarms", default=2, show_default=True,
              help="Patients whose line blocks once (the plant model, slower).")  # fmt: skip
@click.option(
    "--jobs", default=0, type=click.IntRange(min=0), help="Processes (default: up to 2)."
)
@click.option("-o", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
def simulate(patients: int, days: int, seed: int, plant_alarms: int, jobs: int, out: Path) -> None:
    """Run the cohort on the emulator: one .plog per pump and truth.json."""
    from pumphost.review import simulate as sim

    if patients < 1 or days < 1:
        _fail("cohort simulate: --patients and --days must be at least 1")
    if len(f"SIM-{seed}-{patients:02d}") > 12:  # a pump keeps a serial of 12 at most
        _fail("cohort simulate: --seed and --patients too large for the pumps' serials")
    truths = sim.simulate(patients, days, seed, out, plant_alarms, jobs)
    esc = sum(t.escalated for t in truths)
    click.echo(f"{out}: {len(truths)} logs ({esc} escalated) and truth.json")


@cohort.command()
@db_option
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--site", default="sim", show_default=True)
@click.option("--tz", default="Europe/London", show_default=True)
def enrol(db_url: str | None, directory: Path, site: str, tz: str) -> None:
    """Register the cohort's pumps and patients; writes DIRECTORY/tokens.json."""
    from pumphost.review import queries
    from pumphost.review.simulate import load_truth

    tokens = {}
    with _engine(db_url).begin() as conn:  # all or nothing: a refusal changes nothing
        try:
            queries.site_id(conn, site)
        except LookupError:
            queries.add_site(conn, site, f"simulated cohort {site}", tz)
        for t in load_truth(directory):
            try:
                tokens[t.serial] = queries.add_device(conn, t.serial, site, "simulated")
                queries.assign(conn, t.serial, t.code)
            except (ValueError, LookupError) as e:
                _fail(f"cohort enrol: {_why(e)} (enrolled before? its token is in "
                      f"{directory / 'tokens.json'}); nothing changed")  # fmt: skip
    (directory / "tokens.json").write_text(json.dumps(tokens, indent=1))
    click.echo(f"{len(tokens)} pumps enrolled at site {site}; tokens in {directory}/tokens.json")


@cohort.command("upload")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--server", required=True)
def upload_all(directory: Path, server: str) -> None:
    """Upload every pump's log with its token (as `logs upload` does, one by one)."""
    from pumphost.review.client import UploadFailed, check_server
    from pumphost.review.client import upload as do_upload
    from pumphost.review.simulate import load_truth

    try:
        check_server(server)
    except UploadFailed as e:
        _fail(f"cohort upload: {e}")
    path = directory / "tokens.json"
    if not path.is_file():
        _fail(
            f"cohort upload: no {path}: enrol the cohort first (pumpctl cohort enrol {directory})"
        )
    try:
        tokens = json.loads(path.read_text())
    except ValueError as e:
        _fail(f"cohort upload: {path}: not JSON ({e})")
    truths = load_truth(directory)
    missing = [t.serial for t in truths if not isinstance(tokens, dict) or t.serial not in tokens]
    if missing:  # checked before the first upload, not found after half the cohort
        _fail(f"cohort upload: {path} has no token for {', '.join(missing)} (enrolled from "
              "another cohort?); nothing uploaded")  # fmt: skip
    total = 0
    for t in truths:
        try:
            r = do_upload(directory / t.file, server, tokens[t.serial])
        except UploadFailed as e:
            _fail(f"cohort upload: {t.file}: {e}", 1)
        total += int(r["new"])  # type: ignore[call-overload]
    click.echo(f"{total} new records stored")


@cohort.command()
@db_option
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--site", default="sim", show_default=True)
def compare(db_url: str | None, directory: Path, site: str) -> None:
    """The cohort table from the stored records, the ground truth and the study, side by
    side; exit 1 if the records do not reproduce the truth."""
    from pumphost.review import compare as cmp

    with _engine(db_url).begin() as conn:
        text, same = cmp.compare(conn, directory, site)
    click.echo(text)
    if not same:
        _fail("cohort compare: the uploaded records do not reproduce the ground truth", 1)
