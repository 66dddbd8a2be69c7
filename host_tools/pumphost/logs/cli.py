"""`pumpctl logs pull|verify|export|report`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pumphost.logs import export as export_mod
from pumphost.logs import plogfile
from pumphost.logs.records import rows
from pumphost.logs.verify import verify as verify_entries


def _read(path: Path) -> plogfile.Plog:
    try:
        return plogfile.read(path)
    except (OSError, plogfile.PlogError) as e:
        click.echo(f"logs: {e}", err=True)
        sys.exit(2)


def _writable(out: Path, cmd: str) -> None:
    """Refuse an output path that cannot be written, before any work (one line, exit 2)."""
    why = None
    if out.is_dir():
        why = "Is a directory"
    elif not out.parent.is_dir():
        why = "No such file or directory" if not out.parent.exists() else "Not a directory"
    elif not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        why = "Permission denied"
    if why:
        _write_failed(out, cmd, why)


def _write_failed(out: Path, cmd: str, why: str | None) -> None:
    click.echo(f"logs {cmd}: cannot write {out}: {why}", err=True)
    sys.exit(2)


def _write(out: Path, text: str, cmd: str) -> None:
    try:
        out.write_text(text)
    except OSError as e:
        _write_failed(out, cmd, e.strerror)


def _key(key_hex: str | None) -> bytes | None:
    if key_hex is None:
        return None
    try:
        return bytes.fromhex(key_hex)
    except ValueError:
        click.echo("logs: --key must be hex", err=True)
        sys.exit(2)


@click.group()
def logs() -> None:
    """The pump's dose and event log: pull it, verify it, export it, report on it."""


@logs.command()
@click.option("--port", default=None,
              help="The pump's REPL port (serial device or socket:// URL); with --via protocol "
              "its protocol port.")  # fmt: skip
@click.option("--via", type=click.Choice(["auto", "repl", "protocol"]), default="auto",
              show_default=True,
              help="auto: the REPL at --port, and when it does not answer (clinical mode) the "
              "pump protocol at `pumpctl --port` (PUMP_PORT); protocol: the pump protocol at "
              "--port, else at `pumpctl --port`.")  # fmt: skip
@click.option("-o", "out", required=True, type=click.Path(path_type=Path), help="The .plog file.")
@click.option("--log", "log_expr", default="pump.log", show_default=True,
              help="The log object on the device (REPL).")  # fmt: skip
@click.option("--timeout", default=10.0, show_default=True,
              help="Seconds to wait for the REPL's prompt.")  # fmt: skip
@click.pass_context
def pull(
    ctx: click.Context, port: str | None, via: str, out: Path, log_expr: str, timeout: float
) -> None:
    """Copy new records from the pump into FILE (resumes, appends only new ones). FILE is
    written only when the pull is whole; a pull cut short keeps what arrived in FILE.part,
    and the same pull goes on from it."""
    from pumphost.logs.pull import NoRepl, Proto, PullError, Repl
    from pumphost.logs.pull import pull as do_pull

    _writable(out, "pull")  # before the pull, not after it (FILE.part goes beside FILE)
    proto_port = (ctx.find_root().obj or {}).get("port")
    bar = click.progressbar(length=1, label="pulling", file=sys.stderr)
    seen = [0]

    def progress(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.update(done - seen[0])
        seen[0] = done

    try:
        if via == "protocol" or (via == "auto" and port is None):
            url = port or proto_port
            if url is None:
                raise click.UsageError("give the pump's port: --port (or pumpctl --port)")
            source: Repl | Proto = Proto(url)
        else:
            if port is None:
                raise click.UsageError("give the pump's REPL port: --port")
            try:
                source = Repl(port, log_expr, timeout)
            except NoRepl as e:
                if via == "repl" or proto_port is None:
                    raise
                click.echo(f"logs pull: {e}; pulling over the protocol at {proto_port}", err=True)
                source = Proto(proto_port)
        with bar:
            res = do_pull(out, source, progress)
    except (PullError, plogfile.PlogError) as e:
        click.echo(f"logs pull: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo(f"logs pull: interrupted; {out} unchanged (what arrived is in its .part)")
        sys.exit(130)
    rate = res.link_bytes / res.seconds if res.seconds else 0
    click.echo(
        f"{out}: {res.added} new records ({res.device_count} seqs on the device) from "
        f"{res.ident} over the {res.via}, {res.link_bytes} bytes over the link in "
        f"{res.seconds:.1f} s ({rate:.0f} B/s)"
    )
    if not res.ident.named:
        click.echo(
            f"logs pull: WARNING: the pump does not name itself (no serial set, no unique id): "
            f"the review service refuses {out}; give it a serial "
            "(`pumpctl --port PROTOCOL_PORT --pin PIN serial NAME`) and pull into a new file",
            err=True,
        )


@logs.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--key", "key_hex", default=None, help="The device's HMAC key (hex).")
def verify_cmd(file: Path, key_hex: str | None) -> None:
    """Check CRCs, sequence gaps and the HMAC chain; exit 0 only if the log is clean (a file
    with no records is not)."""
    log = _read(file)
    res = verify_entries(log.data, _key(key_hex), log.problems)
    click.echo(f"the log of {plogfile.ident_of(file.read_bytes())}")
    click.echo(res.text())
    sys.exit(0 if res.ok and res.entries else 1)


@logs.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("-o", "out", type=click.Path(path_type=Path), default=None, help="Default: stdout.")
def export_cmd(file: Path, fmt: str, out: Path | None) -> None:
    """Decoded records (UTC, boot, uptime, event, a, b) as CSV or JSON lines."""
    if out is not None:
        _writable(out, "export")
    log = _read(file)
    v = verify_entries(log.data, None, log.problems)
    if not v.ok:  # the export goes on, but never silently: what was left out, and why
        n, m = v.damaged.count, v.disorder.count
        left = [f"{n} damaged record{'s' * (n > 1)} (seq {v.damaged})"] if n else []
        if m:
            what = "entries" if m > 1 else "entry"
            left.append(f"{m} {what} out of order or repeated (seq {v.disorder})")
        click.echo(
            f"logs export: WARNING: {file} is NOT VERIFIED ({len(v.errors)} problems: "
            f"{v.errors[0]}; `pumpctl logs verify` lists them); "
            + (f"left out: {'; '.join(left)}" if left else "no entry was left out"),
            err=True,
        )
    rs = rows(log.data)
    text = export_mod.to_csv(rs) if fmt == "csv" else export_mod.to_jsonl(rs)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write(out, text, "export")


@logs.command("report")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "out", required=True, type=click.Path(path_type=Path))
@click.option("--drug", default="not recorded by the pump", help="Drug name for the header.")
@click.option("--key", "key_hex", default=None, help="The device's HMAC key (hex).")
def report_cmd(file: Path, out: Path, drug: str, key_hex: str | None) -> None:
    """One self-contained HTML page with plots of delivery, dose, rate and alarms."""
    from pumphost.logs.report import build

    _writable(out, "report")
    log = _read(file)
    v = verify_entries(log.data, _key(key_hex), log.problems)
    verified = "clean" if v.ok else f"NOT VERIFIED: {'; '.join(v.errors[:3])}"
    _write(out, build(log.data, file.name, drug, verified, v.errors), "report")
    click.echo(f"{out}: report on {log.count} records ({verified})")
