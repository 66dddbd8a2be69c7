"""`pumpctl logs pull --port PORT -o FILE`: records from the device's log into a .plog file.

Over mpremote's transport (a serial device or a socket:// URL), in the raw REPL without a
soft reset, so the pump keeps running: `LOG.read(seq, n)` pages (LOG defaults to `pump.log`),
several per round trip, from the file's last seq + 1 on. Reading changes nothing on the
device, so a pull cut short (a cable pulled, Ctrl-C) keeps what arrived and the next one goes
on from there; records already in the file are never written twice (deduplicated by seq)."""

from __future__ import annotations

import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mpremote.transport_serial import SerialTransport

from pumphost.logs import plogfile

PAGE = 128  # records per read(): the device's largest page
PAGES_PER_TRIP = 8


class PullError(Exception):
    pass


@dataclass
class Pulled:
    added: int
    device_count: int
    seconds: float
    link_bytes: int  # bytes that came over the link (hex text)


def _exec(t: SerialTransport, code: str) -> str:
    out, err = t.exec_raw(code, timeout=60)
    if err:
        raise PullError(err.decode(errors="replace").strip().splitlines()[-1])
    return out.decode()


def pull(
    port: str,
    out: Path,
    log: str = "pump.log",
    progress: Callable[[int, int], None] | None = None,
) -> Pulled:
    t0 = time.perf_counter()
    before = 0
    last = None
    if out.exists():
        have = plogfile.read(out)
        if not have.footer_ok:
            raise PullError(f"{out}: {'; '.join(have.problems)}")
        last = have.last_seq()
        before = have.count
    seq = 0 if last is None else last + 1
    try:
        t = SerialTransport(port, baudrate=115200)
    except Exception as e:  # noqa: BLE001 - mpremote raises its own TransportError
        raise PullError(f"cannot open {port}: {e}") from None
    got = bytearray()
    link = 0
    try:
        t.enter_raw_repl(soft_reset=False)
        count = int(_exec(t, f"print({log}.count)").strip())
        if last is not None and count <= last:
            raise PullError(
                f"the device's log has {count} sequence numbers, the file already goes to "
                f"{last}: another device or a new log; pull into a new file"
            )
        start = seq
        done = False
        while not done:
            code = (
                f"import binascii\n_s={seq}\n"
                f"for _ in range({PAGES_PER_TRIP}):\n"
                f" _p={log}.read(_s,{PAGE})\n"
                " print(binascii.hexlify(_p).decode())\n"
                " if not _p: break\n"
                " _s=int.from_bytes(_p[-20:-16],'little')+1\n"
            )
            text = _exec(t, code)
            link += len(text)
            lines = [ln.strip() for ln in text.strip("\r\n").split("\n")]
            for line in lines:
                if not line:  # the device had nothing from seq on
                    done = True
                    break
                page = binascii.unhexlify(line)
                if len(page) % plogfile.ENTRY:
                    raise PullError("a page of the wrong size came over the link")
                got += page
                seq = int.from_bytes(page[-20:-16], "little") + 1
            if progress is not None:
                progress(min(seq, count) - start, count - start)
        t.exit_raw_repl()
    finally:
        t.close()
        if got:  # whatever arrived is kept, also when the pull was cut short
            plogfile.append(out, bytes(got))
        elif not out.exists():
            plogfile.write(out, b"")
    added = plogfile.read(out).count - before
    return Pulled(added, count, time.perf_counter() - t0, link)
