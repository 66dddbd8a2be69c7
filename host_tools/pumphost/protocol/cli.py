"""`pumpctl --port PORT status|program|start|pause|resume|stop|bolus|titrate|serial`: a pump
through its protocol (pumphost.protocol.client)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pumphost.protocol.client import LinkError, ProtoClient, PumpError


def _client(ctx: click.Context, need_pin: bool = False) -> ProtoClient:
    obj = ctx.find_root().obj or {}
    port = obj.get("port")
    if not port:
        raise click.UsageError("give the pump's port: pumpctl --port PORT (or PUMP_PORT)")
    pin = obj.get("pin")
    if need_pin and not pin:
        raise click.UsageError("this command needs the clinician PIN: --pin or PUMP_PIN")
    try:
        return ProtoClient(port, pin=pin, timeout=obj.get("timeout", 3.0))
    except LinkError as e:
        _die(str(e), 2)
        raise


def _die(msg: str, code: int) -> None:
    click.echo(f"pumpctl: {msg}", err=True)
    sys.exit(code)


def _call(client: ProtoClient, cmd: str, args: dict[str, Any] | None = None) -> Any:
    """One command; a pump error is one line with its code (exit 1), no answer exit 2."""
    try:
        return client.call(cmd, args)
    except PumpError as e:
        extra = f" ({e.error['reason']})" if "reason" in e.error else ""
        _die(f"pump error {e.code}{extra}: {e.message}", 1)
    except LinkError as e:
        _die(str(e), 2)


def _run(ctx: click.Context, cmd: str, args: dict[str, Any] | None = None, pin: bool = False):
    with _client(ctx, pin) as client:
        return _call(client, cmd, args)


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
    elif isinstance(result, dict):
        for k, v in result.items():
            click.echo(f"{k:16} {json.dumps(v) if isinstance(v, dict | list) else v}")
    else:
        click.echo(result)


_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.command()
@_json
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The pump's state, rate, delivered volume, alarms and program (PORT: --port)."""
    _show(_run(ctx, "status"), as_json)


@click.command()
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--validate-only", is_flag=True, help="Show the summary; set nothing.")
@_json
@click.pass_context
def program(ctx: click.Context, spec: Path, validate_only: bool, as_json: bool) -> None:
    """Validate the program in SPEC (a JSON object, PROTOCOL.md; - for stdin), then set it
    with the token the pump gave (needs the PIN)."""
    try:
        text = sys.stdin.read() if str(spec) == "-" else spec.read_text()
        prog = json.loads(text)
    except (OSError, ValueError) as e:
        raise click.BadParameter(f"{spec}: {e}") from None
    with _client(ctx, need_pin=not validate_only) as client:
        checked = _call(client, "program.validate", {"program": prog})
        if validate_only:
            _show(checked, as_json)
            return
        _show(_call(client, "program.set", {"token": checked["token"]}), as_json)


def _simple(name: str, doc: str) -> click.Command:
    @click.command(name=name, help=doc)
    @_json
    @click.pass_context
    def command(ctx: click.Context, as_json: bool) -> None:
        _show(_run(ctx, name), as_json)

    return command


@click.command()
@click.option("--dose", "dose_ug_24h", type=int, help="New dose, µg per 24 h.")
@click.option("--rate", "rate_ml_h", help="New rate, mL/h (a decimal, e.g. 0.136).")
@click.option("--next", "next_step", is_flag=True, help="The titration plan's next step.")
@_json
@click.pass_context
def titrate(
    ctx: click.Context,
    dose_ug_24h: int | None,
    rate_ml_h: str | None,
    next_step: bool,
    as_json: bool,
) -> None:
    """Change the running program's dose or rate, within its maximum (needs the PIN)."""
    given = [x for x in (dose_ug_24h, rate_ml_h, next_step or None) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --dose, --rate or --next")
    if next_step:
        args: dict[str, Any] = {"next": True}
    elif dose_ug_24h is not None:
        args = {"dose_ug_24h": dose_ug_24h}
    else:
        args = {"rate_ml_h": rate_ml_h}
    _show(_run(ctx, "titrate", args, pin=True), as_json)


@click.command(name="serial")
@click.argument("name", required=False)
@_json
@click.pass_context
def serial_cmd(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Show the pump's serial and the board's unique id, or give the pump the serial NAME
    (needs the PIN; kept on its flash). Its pulled logs name it, and the review service takes
    a log only from the pump its token was made for (`review add-device NAME`)."""
    if name is None:
        st = _run(ctx, "status")
        _show({"serial": st.get("serial", ""), "uid": st.get("uid", "")}, as_json)
    else:
        _show(_run(ctx, "config.set", {"serial": name}, pin=True), as_json)


COMMANDS = [
    status,
    serial_cmd,
    program,
    _simple("start", "Start the program."),
    _simple("pause", "Pause delivery."),
    _simple("resume", "Resume after a pause."),
    _simple("stop", "Stop delivery (never refused)."),
    _simple("bolus", "Give the programmed bolus, if its limits allow."),
    titrate,
]


def port_options(f: Any) -> Any:
    """The options pumpctl's group takes for these commands."""
    f = click.option(
        "--port",
        envvar="PUMP_PORT",
        help="The pump's protocol port: a serial device or socket://HOST:PORT (PUMP_PORT).",
    )(f)
    f = click.option(
        "--pin", envvar="PUMP_PIN", help="Clinician PIN for the commands that need it."
    )(f)
    return f
