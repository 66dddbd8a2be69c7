"""The device under test: a MicroPython REPL reached like mpremote reaches a board.

Each call opens the port, enters the raw REPL without a soft reset (the pump keeps running),
runs the code and closes the port again. On the virtual board that also means simulated
time moves only inside a call or when the rig runs it, which keeps pulse counts repeatable.
"""

from __future__ import annotations

import ast
import re
import time
from typing import Any

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport


class DUTError(AssertionError):
    """Code on the board raised; carries the board's traceback."""


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
