"""`pumpctl logs pull -o FILE`: records from the device's log into a .plog file, over the REPL
or over the pump protocol (clinical mode turns the REPL off; the protocol stays).

- REPL (`Repl`): mpremote's transport (a serial device or a socket:// URL), in the raw REPL
  without a soft reset, so the pump keeps running: `LOG.read(seq, n)` pages (LOG defaults to
  `pump.log`), several per round trip.
- Protocol (`Proto`): `status` (the pump's name and log size), then `log.read` pages of 16
  records (PROTOCOL.md); no PIN.

Either way from the file's last seq + 1 on. The pump names itself (`pump.ident()`: its serial
and the board's unique id) and the file carries that name in its header; a file of another
pump is never appended to. The records go to FILE.part as they arrive; FILE is written (whole,
through a temporary file) only when the pump has nothing more, so a pull that fails leaves
FILE as it was. FILE.part has no footer, so it never verifies as clean; the next pull into
FILE goes on from it (reading changes nothing on the device)."""

from __future__ import annotations

import binascii
import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pumphost.logs import plogfile
from pumphost.logs.plogfile import Ident

PAGE = 128  # records per read(): the device's largest page
PAGES_PER_TRIP = 8
PROTO_PAGE = 16  # records per log.read: the protocol's largest page (LOG_MAX)


class PullError(Exception):
    pass


class NoRepl(PullError):
    """The REPL did not answer (clinical mode, or another program holds it)."""


@dataclass
class Pulled:
    added: int
    device_count: int
    seconds: float
    link_bytes: int  # bytes that came over the link (hex text)
    ident: Ident
    via: str  # "REPL" or "protocol"


class Repl:
    """The pump's REPL: its log object (`log`) and, from it, the pump (`pump.log` -> `pump`)."""

    via = "REPL"

    def __init__(self, port: str, log: str = "pump.log", timeout: float = 10.0) -> None:
        from mpremote.transport_serial import SerialTransport

        self.port, self.log, self.link = port, log, 0
        self.pump = log.removesuffix(".log") if log.endswith(".log") else None
        try:
            self.t = SerialTransport(port, baudrate=115200)
        except Exception as e:  # noqa: BLE001 - mpremote raises its own TransportError
            raise PullError(f"cannot open {port}: {e}") from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints what it got
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        except Exception as e:  # noqa: BLE001 - TransportError: no raw REPL prompt came
            self.t.close()
            raise NoRepl(
                f"no REPL at {port} ({e}): in clinical mode the REPL is off; pull over the "
                "pump protocol instead (`pumpctl logs pull --via protocol --port PROTOCOL_PORT`:"
                " UART1 on the board, the REPL's port + 2 on the virtual Pico)"
            ) from None

    def _exec(self, code: str) -> str:
        try:
            out, err = self.t.exec_raw(code, timeout=60)
        except Exception as e:  # noqa: BLE001 - the link: TransportError, SerialException
            raise PullError(f"the link to {self.port} failed: {e}") from None
        if err:
            raise PullError(err.decode(errors="replace").strip().splitlines()[-1])
        return out.decode()

    def ident(self) -> Ident:
        if self.pump is None:
            return Ident()
        code = (
            f"import json\ntry:\n _i=json.dumps({self.pump}.ident())\n"
            "except (NameError, AttributeError):\n _i='{}'\nprint(_i)"
        )
        return Ident.of(json.loads(self._exec(code)))

    def count(self) -> int:
        return int(self._exec(f"print({self.log}.count)").strip())

    def pages(self, seq: int) -> Iterator[bytes]:
        while True:
            code = (
                f"import binascii\n_s={seq}\n"
                f"for _ in range({PAGES_PER_TRIP}):\n"
                f" _p={self.log}.read(_s,{PAGE})\n"
                " print(binascii.hexlify(_p).decode())\n"
                " if not _p: break\n"
                " _s=int.from_bytes(_p[-20:-16],'little')+1\n"
            )
            text = self._exec(code)
            self.link += len(text)
            for line in (ln.strip() for ln in text.strip("\r\n").split("\n")):
                if not line:  # the device had nothing from seq on
                    return
                page = binascii.unhexlify(line)
                yield page
                seq = int.from_bytes(page[-20:-16], "little") + 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.t.exit_raw_repl()
        self.t.close()


class Proto:
    """The pump protocol (PROTOCOL.md): `status`, then `log.read` pages."""

    via = "protocol"

    def __init__(self, port: str, timeout: float = 3.0) -> None:
        from pumphost.protocol.client import LinkError, ProtoClient

        self.port, self.link = port, 0
        try:
            self.c = ProtoClient(port, timeout=timeout)
        except LinkError as e:
            raise PullError(str(e)) from None
        try:
            self._status = self._call("status")
        except PullError:
            self.c.close()
            raise

    def _call(self, cmd: str, args: dict[str, int] | None = None) -> dict[str, object]:
        from pumphost.protocol.client import LinkError, PumpError

        try:
            return self.c.call(cmd, args)
        except PumpError as e:
            raise PullError(f"the pump refused {cmd}: {e.code}: {e.message}") from None
        except LinkError as e:
            raise PullError(str(e)) from None

    def ident(self) -> Ident:
        return Ident.of(self._status)

    def count(self) -> int:
        return int(self._status["log_records"])  # type: ignore[call-overload]

    def pages(self, seq: int) -> Iterator[bytes]:
        while True:
            r = self._call("log.read", {"seq": seq, "n": PROTO_PAGE})
            text = str(r["records"])
            self.link += len(text)
            if not text:
                return
            page = binascii.unhexlify(text)
            yield page
            seq = int.from_bytes(page[-20:-16], "little") + 1

    def close(self) -> None:
        self.c.close()


def part_of(out: Path) -> Path:
    return out.with_name(out.name + ".part")


def _have(out: Path) -> tuple[bytes, Ident | None, bool]:
    """What FILE (or FILE.part, a pull cut short) already holds: entries, their pump (None: no
    file yet) and whether they came from the .part."""
    part = part_of(out)
    src, from_part = (part, True) if part.exists() else (out, False)
    if not src.exists():
        return b"", None, False
    raw = src.read_bytes()
    log = plogfile.parse(raw, str(src))
    if not from_part and not log.footer_ok:
        raise PullError(f"{out}: {'; '.join(log.problems)}")
    return log.data, plogfile.ident_of(raw), from_part


def same_pump(a: Ident, b: Ident) -> bool:
    """One board (unique ids equal) under one serial (unless one side has none), or, with no
    unique id, the same name (both unnamed included: firmware older than names)."""
    if a.uid and b.uid:
        return a.uid == b.uid and (not a.serial or not b.serial or a.serial == b.serial)
    return a == b


def pull(
    out: Path,
    source: Repl | Proto,
    progress: Callable[[int, int], None] | None = None,
) -> Pulled:
    """Pulls into `out` from `source` (closed when done). PullError: nothing written to `out`;
    what arrived, if anything, is in `out`.part for the next pull to go on from."""
    t0 = time.perf_counter()
    part = part_of(out)
    try:
        entries, ident, from_part = _have(out)
        dev = source.ident()
        if ident is not None and not same_pump(ident, dev):
            name = part if from_part else out
            raise PullError(
                f"{name} holds the log of {ident}; the pump at {source.port} is {dev}: "
                "pull into a new file"
            )
        last = int.from_bytes(entries[-20:-16], "little") if entries else None
        count = source.count()
        if last is not None and count <= last:
            raise PullError(
                f"the device's log has {count} sequence numbers, the file already goes to "
                f"{last}: another device or a new log; pull into a new file"
            )
        start = seq = 0 if last is None else last + 1
        with contextlib.ExitStack() as stack:
            sink = None
            for page in source.pages(seq):
                if len(page) % plogfile.ENTRY:
                    raise PullError("a page of the wrong size came over the link")
                new = bytearray()
                for o in range(0, len(page), plogfile.ENTRY):
                    s = int.from_bytes(page[o : o + 4], "little")
                    if s >= seq:  # never twice, always in order
                        new += page[o : o + plogfile.ENTRY]
                        seq = s + 1
                if new and sink is None:  # FILE stays as it was until the pull is whole
                    tmp = part.with_name(part.name + ".tmp")
                    tmp.write_bytes(plogfile.header(dev) + entries)
                    tmp.replace(part)
                    sink = stack.enter_context(part.open("ab"))
                if sink is not None:
                    sink.write(new)
                    sink.flush()
                if progress is not None:
                    progress(min(seq, count) - start, count - start)
    except PullError as e:
        kept = f" ({part} keeps what arrived: the same pull goes on from it)"
        raise PullError(str(e) + (kept if part.exists() else "")) from None
    finally:
        source.close()
    whole = plogfile.parse(part.read_bytes(), str(part)).data if part.exists() else entries
    before = _count(out)
    if part.exists() or not out.exists():
        plogfile.write(out, whole, dev)  # complete: FILE, whole, naming the pump
        part.unlink(missing_ok=True)
    added = len(whole) // plogfile.ENTRY - before
    return Pulled(added, count, time.perf_counter() - t0, source.link, dev, source.via)


def _count(path: Path) -> int:
    try:
        return plogfile.read(path).count if path.exists() else 0
    except plogfile.PlogError:
        return 0
