"""`pumpctl logs pull` over the pump protocol (clinical mode has no REPL), against the real
handler: pump.protocol.Protocol on the core's Pump with the firmware's log ring on the NOR
emulation, behind a TCP server in this process, reached through a socket:// URL as a board
is. A REPL in clinical mode is a port that reads and drops everything (protolink.lock_repl)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api, events, protocol
from pump.logring import LogRing
from pump.runner import Runner
from pumphost.cli import cli
from pumphost.logs import plogfile
from pumphost.logs.nor import SECTOR, NorFlash
from pumphost.logs.plogfile import Ident
from pumphost.logs.pull import Proto, PullError, part_of, pull

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


class Board:
    """A pump named PUMP-0042 keeping its log in flash, its protocol on a TCP port. `cut`:
    after that many more log.read requests the connection drops (a cable pulled)."""

    def __init__(self, serial: str = "PUMP-0042") -> None:
        self.clock = SimClock(NEAR_WRAP)
        self.ring = LogRing(NorFlash(8 * SECTOR), self.clock.ticks(), log_id=42)
        self.pump = api.Pump(
            MECH, FakeStepper(self.clock), self.clock.ticks, log=self.ring, serial=serial
        )
        runner = Runner(self.pump, self.clock.ticks())
        self.proto = protocol.Protocol(
            self.pump, protocol.MemoryStore(), rand=lambda n: bytes(range(n)), runner=runner
        )
        self.cut: int | None = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def add(self, n: int) -> None:
        for i in range(n):
            self.clock.elapsed += 60_000_000
            self.ring.add(self.clock.ticks(), events.DELIVERED, i * 2266, i * 55)
            self.ring.service(self.clock.ticks())

    def entries(self) -> bytes:
        out, seq = bytearray(), 0
        while page := self.ring.read(seq, 128):
            out += page
            seq = int.from_bytes(page[-20:-16], "little") + 1
        return bytes(out)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while data := conn.recv(4096):
                    buf += data
                    while b"\n" in buf:
                        line, _, buf = buf.partition(b"\n")
                        if b"log.read" in line and self.cut is not None:
                            if self.cut == 0:
                                self.cut = None
                                conn.shutdown(socket.SHUT_RDWR)
                                break
                            self.cut -= 1
                        conn.sendall(self.proto.feed(line + b"\n"))

    def close(self) -> None:
        self.sock.close()


class DeadRepl:
    """The REPL's port in clinical mode: every byte read and dropped, never a prompt."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while conn.recv(4096):
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def board() -> Iterator[Board]:
    b = Board()
    b.add(300)
    yield b
    b.close()


@pytest.fixture
def repl() -> Iterator[DeadRepl]:
    r = DeadRepl()
    yield r
    r.close()


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def test_in_clinical_mode_a_repl_pull_fails_in_one_line_and_leaves_no_file(
    repl: DeadRepl, tmp_path: Path
) -> None:
    out = tmp_path / "p.plog"
    code, text = _run("logs", "pull", "--port", repl.url, "-o", str(out), "--timeout", "1")
    assert code == 1, text
    assert "Traceback" not in text and "no REPL" in text and "--via protocol" in text, text
    assert list(tmp_path.iterdir()) == []  # nothing that could verify as clean


def test_a_pull_over_the_protocol_names_the_pump_and_verifies(
    board: Board, tmp_path: Path
) -> None:
    out = tmp_path / "p.plog"
    code, text = _run("logs", "pull", "--via", "protocol", "--port", board.url, "-o", str(out))
    assert code == 0, text
    assert "pump PUMP-0042" in text and "over the protocol" in text, text
    raw = out.read_bytes()
    assert plogfile.ident_of(raw) == Ident("PUMP-0042", "")
    assert plogfile.read(out).data == board.entries()
    code, text = _run("logs", "verify", str(out))
    assert code == 0 and "pump PUMP-0042" in text and "verified: clean" in text, text
    board.add(5)
    code, text = _run("logs", "pull", "--via", "protocol", "--port", board.url, "-o", str(out))
    assert code == 0 and ": 5 new records" in text, text
    assert plogfile.read(out).data == board.entries()


def test_with_no_repl_the_pull_goes_over_the_protocol_port(
    board: Board, repl: DeadRepl, tmp_path: Path
) -> None:
    out = tmp_path / "p.plog"
    args = ["--port", board.url, "logs", "pull", "--port", repl.url, "-o", str(out)]
    code, text = _run(*args, "--timeout", "1")
    assert code == 0, text
    assert "pulling over the protocol at " + board.url in text, text
    assert plogfile.read(out).data == board.entries()


def test_a_pull_cut_short_leaves_the_file_as_it_was_and_the_next_goes_on(
    board: Board, tmp_path: Path
) -> None:
    out = tmp_path / "p.plog"
    pull(out, Proto(board.url, timeout=0.5))
    before = out.read_bytes()
    board.add(400)
    board.cut = 5  # 5 pages (80 records) arrive, then the link drops
    with pytest.raises(PullError, match="keeps what arrived"):
        pull(out, Proto(board.url, timeout=0.5))
    assert out.read_bytes() == before
    part = part_of(out)
    assert len(plogfile.read(part).data) == len(before) - 48 + 80 * 20
    code, text = _run("logs", "verify", str(part))
    assert code == 1 and "NOT VERIFIED" in text, text  # a part pull is never clean
    res = pull(out, Proto(board.url, timeout=0.5))
    assert res.added == (len(board.entries()) - len(before) + 48) // 20 and not part.exists()
    assert plogfile.read(out).data == board.entries()
    assert _run("logs", "verify", str(out))[0] == 0


def test_another_pumps_file_is_never_appended_to(board: Board, tmp_path: Path) -> None:
    out = tmp_path / "p.plog"
    plogfile.write(out, board.entries()[: 100 * 20], Ident("PUMP-0007", ""))
    before = out.read_bytes()
    with pytest.raises(PullError, match="holds the log of pump PUMP-0007.*is pump PUMP-0042"):
        pull(out, Proto(board.url, timeout=0.5))
    assert out.read_bytes() == before and not part_of(out).exists()


def test_verify_says_plainly_that_a_file_holds_no_records(tmp_path: Path) -> None:
    p = tmp_path / "empty.plog"
    plogfile.write(p, b"", Ident("PUMP-0042", ""))
    code, text = _run("logs", "verify", str(p))
    assert code == 1 and "NO RECORDS" in text and "clean" not in text, text


def test_pumpctl_serial_names_the_pump(board: Board) -> None:
    board.proto.handle_line(b'{"id": 1, "cmd": "pin.change", "args": {"new": "4321"}}')
    code, text = _run("--port", board.url, "--pin", "4321", "serial", "PUMP-0043")
    assert code == 0, text
    code, text = _run("--port", board.url, "serial", "--json")
    assert code == 0 and '"serial": "PUMP-0043"' in text, text


def test_the_emulator_names_its_log_by_the_scenarios_serial(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text(
        '[pump]\nboard = "pico"\nsyringe = "bd-plastipak-10ml"\nfill_ml = 5.0\n'
        'serial = "PUMP-0042"\n[program]\nrate_ml_per_h = 1.0\n[run]\nduration_h = 0.1\n'
    )
    out = tmp_path / "run.plog"
    code, text = _run("sim", str(sc), "--log", str(out))
    assert code == 0, text
    assert plogfile.ident_of(out.read_bytes()) == Ident("PUMP-0042", "")
    code, text = _run("sim", str(sc), "--log", str(out), "--serial", "PUMP-0043")
    assert code == 0 and plogfile.ident_of(out.read_bytes()).serial == "PUMP-0043", text
    code, text = _run("sim", str(sc), "--serial", "no such/serial")
    assert code == 2 and "pump.serial" in text, text
