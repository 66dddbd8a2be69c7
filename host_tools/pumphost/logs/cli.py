"""`pumpctl logs pull|verify|export|report`."""

from __future__ import annotations

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
@click.option("--port", required=True, help="Serial device or socket:// URL of the pump.")
@click.option("-o", "out", required=True, type=click.Path(path_type=Path), help="The .plog file.")
@click.option("--log", "log_expr", default="pump.log", show_default=True,
              help="The log object on the device.")  # fmt: skip
def pull(port: str, out: Path, log_expr: str) -> None:
    """Copy new records from the pump into FILE (resumes, appends only new ones)."""
    from pumphost.logs.pull import PullError
    from pumphost.logs.pull import pull as do_pull

    bar = click.progressbar(length=1, label="pulling", file=sys.stderr)
    seen = [0]

    def progress(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.update(done - seen[0])
        seen[0] = done

    try:
        with bar:
            res = do_pull(port, out, log_expr, progress)
    except (PullError, plogfile.PlogError) as e:
        click.echo(f"logs pull: {e}", err=True)
        sys.exit(1)
    rate = res.link_bytes / res.seconds if res.seconds else 0
    click.echo(
        f"{out}: {res.added} new records ({res.device_count} seqs on the device), "
        f"{res.link_bytes} bytes over the link in {res.seconds:.1f} s ({rate:.0f} B/s)"
    )


@logs.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--key", "key_hex", default=None, help="The device's HMAC key (hex).")
def verify_cmd(file: Path, key_hex: str | None) -> None:
    """Check CRCs, sequence gaps and the HMAC chain; exit 0 only if the log is clean."""
    log = _read(file)
    res = verify_entries(log.data, _key(key_hex), log.problems)
    click.echo(res.text())
    sys.exit(0 if res.ok else 1)


@logs.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("-o", "out", type=click.Path(path_type=Path), default=None, help="Default: stdout.")
def export_cmd(file: Path, fmt: str, out: Path | None) -> None:
    """Decoded records (UTC, boot, uptime, event, a, b) as CSV or JSON lines."""
    rs = rows(_read(file).data)
    text = export_mod.to_csv(rs) if fmt == "csv" else export_mod.to_jsonl(rs)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)


@logs.command("report")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "out", required=True, type=click.Path(path_type=Path))
@click.option("--drug", default="not recorded by the pump", help="Drug name for the header.")
@click.option("--key", "key_hex", default=None, help="The device's HMAC key (hex).")
def report_cmd(file: Path, out: Path, drug: str, key_hex: str | None) -> None:
    """One self-contained HTML page with plots of delivery, dose, rate and alarms."""
    from pumphost.logs.report import build

    log = _read(file)
    v = verify_entries(log.data, _key(key_hex), log.problems)
    verified = "clean" if v.ok else f"NOT VERIFIED: {'; '.join(v.errors[:3])}"
    out.write_text(build(log.data, file.name, drug, verified))
    click.echo(f"{out}: report on {log.count} records ({verified})")
