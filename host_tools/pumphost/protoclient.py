"""The pump protocol's host side (firmware/pump/PROTOCOL.md): a client over pyserial's
`serial_for_url` (a serial device, or a `socket://` URL of the virtual Pico's UART1), and the
`pumpctl --port PORT status|program|start|pause|resume|stop|bolus|titrate` commands.

Request ids increase: a session starts from the time (tenths of a second since 2025), so a
later session starts above an earlier one, and each request takes the next. A request with
no answer in time is sent again byte for byte, same id: the pump answers a repeated id from
its cache and never runs it twice, so a retried bolus is never given twice.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
import serial

EPOCH = 1735689600  # 2025-01-01 UTC: ids are tenths of a second since then
MAX_ID = (1 << 31) - 1
MAX_LINE = 512  # the pump's bound on a request line (pump/protocol.py)
PIN_COMMANDS = ("program.set", "titrate", "clock.set", "config.set", "pin.change", "load")
_ID_OLD = re.compile(r"is not above (\d+)")


class PumpError(Exception):
    """The pump refused a request: `code` (PROTOCOL.md's error codes), its message and the
    rest of the error object (a bolus_denied's reason, a soft_limit's limits)."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = str(error.get("code"))
        self.message = str(error.get("message", ""))
        self.error = error
        super().__init__(f"{self.code}: {self.message}")


class LinkError(Exception):
    """No answer from the pump (after the retries), or the port could not be opened."""


_SOCKET_URL = re.compile(r"socket://(\[[^]]+\]|[^:/?\[]+):(\d{1,5})(\?.*)?")


def _url_problem(url: str) -> str | None:
    """pyserial's own words for a bad socket:// URL are garbled ('debug|info|...')."""
    m = _SOCKET_URL.fullmatch(url) if url.startswith("socket://") else None
    if url.startswith("socket://") and not (m and 1 <= int(m[2]) <= 65535):
        return "give socket://HOST:PORT, PORT 1-65535"
    return None


def first_id(now: float | None = None) -> int:
    t = time.time() if now is None else now
    return max(0, int((t - EPOCH) * 10)) % MAX_ID


class ProtoClient:
    """One session with a pump. `timeout`: seconds to wait for an answer before the same
    request is sent again, `retries` times at most."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        retries: int = 3,
        pin: str | None = None,
        next_id: int | None = None,
        port: Any = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.pin = pin
        self.next_id = first_id() if next_id is None else next_id
        self._fresh = True  # no request sent yet: an id_old answer then is about our start
        self.sent = 0  # lines written, retries included (for tests)
        if port is None:
            if why := _url_problem(url):
                raise LinkError(f"cannot open {url}: {why}")
            try:
                port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)
            except (OSError, ValueError) as e:  # serial.SerialException is an OSError
                raise LinkError(f"cannot open {url}: {e}") from None
        self.port = port
        self._rx = b""

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> ProtoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readline(self, deadline: float) -> bytes | None:
        while b"\n" not in self._rx:
            if time.monotonic() > deadline:
                return None
            try:
                chunk = self.port.read(self.port.in_waiting or 1)
            except OSError as e:
                raise LinkError(f"{self.url}: {e}") from None
            self._rx += chunk
        line, _, self._rx = self._rx.partition(b"\n")
        return line

    def raw(self, req: dict[str, Any]) -> dict[str, Any]:
        """Sends one request object (its id included) and returns the response object for
        that id, sending the same bytes again on a timeout or an answer that says the line
        was damaged on the way (bad_json, bad_request or too_long without an id)."""
        line = json.dumps(req, separators=(",", ":")).encode()
        if len(line) > MAX_LINE:
            raise LinkError(f"request of {len(line)} bytes: the pump takes at most {MAX_LINE}")
        rid = req["id"]
        for _attempt in range(self.retries + 1):
            try:
                self.port.write(line + b"\n")
                self.port.flush()
            except OSError as e:
                raise LinkError(f"{self.url}: {e}") from None
            self.sent += 1
            deadline = time.monotonic() + self.timeout
            while True:
                got = self._readline(deadline)
                if got is None:
                    break  # timed out: the same request again
                try:
                    resp = json.loads(got)
                except ValueError:
                    continue  # noise on the line (a reset's output, a cut answer)
                if not isinstance(resp, dict):
                    continue
                if resp.get("id") == rid:
                    return resp
                if resp.get("id") is None:
                    break  # our line arrived damaged and ran nothing: send it again
                # an answer to an earlier attempt or request, already dealt with: skip
        raise LinkError(
            f"no answer from the pump at {self.url} "
            f"({self.retries + 1} tries, {self.timeout:g} s each)"
        )

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Runs a command; returns its result, raises PumpError with the pump's error."""
        req: dict[str, Any] = {"id": self.next_id, "cmd": cmd}
        if args:
            req["args"] = args
        if cmd in PIN_COMMANDS and self.pin is not None:
            req["pin"] = self.pin
        resp = self.raw(req)
        for _ in range(20):
            # A session's first request may find ids at or above its start (a host clock
            # behind, another session within the same tenth of a second): refused unrun,
            # so it is safe to send it again with a higher id (never after it ran once).
            code = (resp.get("error") or {}).get("code")
            if resp.get("ok") or not self._fresh or code not in ("id_old", "id_reused"):
                break
            m = _ID_OLD.search(str(resp["error"].get("message", "")))
            req["id"] = int(m.group(1)) + 1 if code == "id_old" and m else req["id"] + 1
            resp = self.raw(req)
        self._fresh = False
        self.next_id = req["id"] + 1
        if not resp.get("ok"):
            raise PumpError(resp.get("error") or {"code": "unknown", "message": repr(resp)})
        return resp.get("result")


# ---- pumpctl --port PORT ... ----


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
