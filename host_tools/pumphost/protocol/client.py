"""The pump protocol's host side (firmware/pump/PROTOCOL.md): a client over pyserial's
`serial_for_url` (a serial device, or a `socket://` URL of the virtual Pico's UART1), and the
`pumpctl --port PORT ...` commands live in pumphost.protocol.cli.

Request ids increase: a session starts from the time (tenths of a second since 2025), so a
later session starts above an earlier one, and each request takes the next. A request with
no answer in time is sent again byte for byte, same id: the pump answers a repeated id from
its cache and never runs it twice, so a retried bolus is never given twice.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

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
