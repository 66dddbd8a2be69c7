"""The device under test: a MicroPython REPL reached like mpremote reaches a board.

Each call opens the port, enters the raw REPL without a soft reset (the pump keeps running),
runs the code and closes the port again. On the virtual board that also means simulated
time moves only inside a call or when the rig runs it, which keeps pulse counts repeatable.

Also a command line for `make deploy`: `python hil/dut.py soft-reset PORT [--expect REGEX]`.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from typing import Any

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

# The friendly REPL's banner and prompt: "MicroPython v1.25.0 on ...; ... with RP2040",
# "Type "help()" for more information.", ">>> ".
_BANNER_PROMPT = re.compile(rb"MicroPython [^\r\n]*\r\n(?:[^\r\n]*\r\n)?>>> $")
_SOFT_REBOOT = re.compile(rb"soft reboot\r?\n")
_RAW_PROMPT = re.compile(rb"raw REPL; CTRL-B to exit\r\n>")


class DUTError(AssertionError):
    """Code on the board raised; carries the board's traceback."""


class DUTUnreachable(Exception):
    """Nothing answered at the port: no board is there (the message names the port)."""


class DUTSilent(Exception):
    """The port opened but no MicroPython REPL answered on it (the message says what did)."""


def _read_for(
    t: SerialTransport, pattern: re.Pattern[bytes], timeout: float, data: bytes = b""
) -> bytes:
    """Read on after `data` until it matches `pattern`, for at most `timeout` s, or until the
    port closes; return all of it (the caller checks for the match)."""
    deadline = time.monotonic() + timeout
    while pattern.search(data) is None and time.monotonic() < deadline:
        try:
            n = t.serial.inWaiting()
            data += t.serial.read(n) if n else b""
        except OSError:  # the other end closed the port
            break
        if not n:
            time.sleep(0.01)
    return data


def _wait_for(
    t: SerialTransport, pattern: re.Pattern[bytes], timeout: float, data: bytes = b""
) -> bytes:
    """Read on after `data` until it matches `pattern`; raise DUTError after `timeout` s."""
    data = _read_for(t, pattern, timeout, data)
    if pattern.search(data) is None:
        tail = data[-300:].decode(errors="replace")
        raise DUTError(f"no {pattern.pattern!r} from the board in {timeout:g} s; got:\n{tail}")
    return data


class DUT:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self.log: list[str] = []  # everything the board printed, for expect()

    def _open(self) -> SerialTransport:
        for attempt in range(20):
            try:
                return SerialTransport(self.url, baudrate=115200)
            except TransportError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        raise AssertionError("unreachable")

    def probe(self, timeout: float = 5.0) -> None:
        """Check once, and fast, that a MicroPython REPL answers at the port.

        Raises DUTUnreachable if the port cannot be opened (a socket with nothing listening,
        a device that is gone) and DUTSilent if it opens but no raw REPL prompt comes back.
        """
        try:
            t = SerialTransport(self.url, baudrate=115200)  # one attempt, no retries
        except TransportError:
            raise DUTUnreachable(f"nothing answered at {self.url}: {self._why_closed()}") from None
        try:
            t.serial.write(b"\r\x03\x03\x01")  # interrupt, then Ctrl-A: the raw REPL
            got = _read_for(t, _RAW_PROMPT, timeout)
            if _RAW_PROMPT.search(got) is None:
                said = got.decode(errors="replace").strip()[-120:]
                raise DUTSilent(
                    f"{self.url} opened but no MicroPython REPL answered in {timeout:g} s"
                    + (f"; it said {said!r}" if said else "")
                )
            t.serial.write(b"\x02")  # Ctrl-B: back to the friendly REPL
        finally:
            t.close()

    def _why_closed(self) -> str:
        """Why the port does not open (mpremote's TransportError drops the reason)."""
        try:
            serial.serial_for_url(self.url, baudrate=115200).close()
        except (OSError, ValueError) as e:  # serial.SerialException is an OSError
            return str(e)
        return "it opens now"

    def soft_reset(self, timeout: float = 30.0) -> str:
        """Soft reset from the friendly REPL, as Ctrl-D at `mpremote repl` does, and wait for
        the prompt after it. _boot.py, boot.py and main.py all run; a soft reset from the raw
        REPL (mpremote's `soft-reset` and its connect-time reset) skips main.py (ports/rp2/
        main.c) and mpremote hides what the board prints while it boots. The port stays open
        throughout: a USB board keeps its CDC link across a soft reset, and a connected client
        keeps the virtual board's clock running. Returns what the board printed from the
        reboot to the prompt; raises DUTError if that holds a traceback (a boot script failed).
        """
        t = self._open()
        try:
            # Interrupt whatever runs, leave the raw REPL if a tool left it there, and wait
            # for the friendly REPL's banner (Ctrl-B prints it in either REPL).
            t.serial.write(b"\r\x03\x03\x02")
            _wait_for(t, _BANNER_PROMPT, timeout)
            t.serial.write(b"\x04")  # Ctrl-D on an empty line: soft reset
            out = _wait_for(t, _SOFT_REBOOT, timeout)
            out = _wait_for(t, _BANNER_PROMPT, timeout, out[out.rindex(b"soft reboot") :])
        finally:
            t.close()
        text = out.decode(errors="replace").replace("\r\n", "\n")
        self.log.append(text)
        if "Traceback (most recent call last)" in text:
            raise DUTError(f"the board raised while it booted after the soft reset:\n{text}")
        return text

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run code on the board; return what it printed. Raises DUTError on an exception."""
        t = self._open()
        try:
            t.enter_raw_repl(soft_reset=False)
            out, err = t.exec_raw(code, timeout=timeout or self.timeout)
            t.exit_raw_repl()
        except TransportExecError as e:  # pragma: no cover - exec_raw returns err instead
            raise DUTError(e.error_output) from None
        finally:
            t.close()
        text = out.decode(errors="replace").replace("\r\n", "\n")
        self.log.append(text)
        if err:
            raise DUTError(err.decode(errors="replace"))
        if "Traceback (most recent call last)" in text:
            # An IRQ or timer callback on the board raised while this code ran.
            raise DUTError(f"the board printed an uncaught exception:\n{text}")
        return text

    def put(self, files: dict[str, bytes]) -> None:
        """Write files to the board's filesystem (littlefs on flash), making folders."""
        t = self._open()
        try:
            t.enter_raw_repl(soft_reset=False)
            for path, data in files.items():
                parts = path.strip("/").split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    folder = "/" + "/".join(parts[:i])
                    t.exec(f"import os\ntry:\n os.mkdir({folder!r})\nexcept OSError:\n pass")
                t.fs_writefile(path, data)
            t.exit_raw_repl()
        finally:
            t.close()

    def eval(self, expr: str) -> Any:
        """Evaluate an expression on the board and bring its repr back as a Python value."""
        return ast.literal_eval(self.exec(f"print(repr({expr}))").strip())

    def expect(self, pattern: str, code: str | None = None) -> re.Match[str]:
        """Match a regex against what the board printed (after running `code`, if given)."""
        if code is not None:
            self.exec(code)
        text = "".join(self.log)
        m = re.search(pattern, text, re.MULTILINE)
        if m is None:
            tail = text[-500:]
            raise AssertionError(f"board output does not match {pattern!r}; last output:\n{tail}")
        return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hil/dut.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sr = sub.add_parser("soft-reset", help="soft reset from the friendly REPL; wait for main.py")
    sr.add_argument("port", help="serial device or socket:// URL")
    sr.add_argument("--expect", default=None, help="regex the boot output must match")
    sr.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args(argv)
    dut = DUT(args.port)
    try:
        out = dut.soft_reset(timeout=args.timeout)
    except (DUTError, TransportError) as e:
        print(f"{args.port}: {e}", file=sys.stderr)
        return 1
    print(out.rstrip("> \n"))
    if args.expect is not None and re.search(args.expect, out) is None:
        print(f"{args.port}: the boot output does not match {args.expect!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
