"""The protocol client and `pumpctl --port` against the real handler: pump.protocol.Protocol on
the core's Pump (tests/core/progrig.py) behind a TCP server in this process, reached through
pyserial's socket:// URL as a board is. The server can lose answers on purpose (a damaged
link), so the retries are tested against the cache that makes them safe."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from progrig import PIN, Rig

from pumphost.cli import cli
from pumphost.protocol.client import LinkError, ProtoClient, PumpError, first_id

OCT = {
    "dose_ug_24h": 1632,
    "conc_ug_ml": 500,
    "max_24h_ug": 3000,
    "bolus": {"dose_ug": 50, "rate_ml_h": "1", "lockout_min": 30, "max_per_h": 1},
    "titration": {"max_dose_ug_24h": 2500, "steps": [{"at_min": 2880, "dose_ug_24h": 2167}]},
}


class PumpServer:
    """One client at a time; `drop` answers are swallowed (the request still runs), `mangle`
    requests lose their last byte before the pump sees them (it answers bad_json, id null)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.drop = 0
        self.mangle = 0
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

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
                        self.requests.append(line)
                        with self.lock:
                            if self.mangle:
                                self.mangle -= 1
                                line = line[:-1]
                            out = self.rig.proto.feed(line + b"\n")
                            if self.drop:
                                self.drop -= 1
                                continue
                        conn.sendall(out)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[PumpServer]:
    rig = Rig()
    rig.ok("pin.change", {"new": PIN})
    srv = PumpServer(rig)
    yield srv
    srv.close()


def _running(server: PumpServer) -> ProtoClient:
    c = ProtoClient(server.url, pin=PIN, timeout=0.5, next_id=1000)
    tok = c.call("program.validate", {"program": OCT})["token"]
    c.call("program.set", {"token": tok})
    c.call("start")
    server.rig.run(60)
    return c


def test_ids_increase_and_only_pin_commands_carry_the_pin(server: PumpServer) -> None:
    c = _running(server)
    sent = [json.loads(r) for r in server.requests]
    assert [r["id"] for r in sent] == [1000, 1001, 1002]
    assert ["pin" in r for r in sent] == [False, True, False]
    assert c.call("status")["state"] == "running"
    assert json.loads(server.requests[-1])["id"] == 1003


def test_a_lost_answer_is_retried_with_the_same_id_and_the_bolus_given_once(
    server: PumpServer,
) -> None:
    c = _running(server)
    server.drop = 1  # the bolus runs, its answer never arrives
    result = c.call("bolus")
    assert result["bolus_ml"] == "0.1"
    assert server.rig.runner.boluses == 1
    assert server.requests[-1] == server.requests[-2]  # byte for byte, same id
    assert c.sent == 5
    server.rig.run(400)  # the bolus (6 min) is over
    with pytest.raises(PumpError) as e:
        c.call("bolus")  # a new request: the lockout, not the cache
    assert e.value.code == "bolus_denied" and e.value.error["reason"] == "lockout"
    assert server.rig.runner.boluses == 1


def test_a_damaged_request_is_sent_again(server: PumpServer) -> None:
    c = _running(server)
    server.mangle = 1  # the pump sees broken JSON: bad_json with id null, nothing ran
    assert c.call("pause")["state"] == "paused"
    assert server.requests[-1] == server.requests[-2]


def test_no_answer_at_all_is_a_link_error_after_the_retries(server: PumpServer) -> None:
    c = ProtoClient(server.url, timeout=0.2, retries=2, next_id=5)
    server.drop = 10
    with pytest.raises(LinkError, match="3 tries"):
        c.call("status")
    assert len(server.requests) == 3 and len(set(server.requests)) == 1


def test_a_session_starting_below_the_pumps_ids_moves_above_them(server: PumpServer) -> None:
    with ProtoClient(server.url, next_id=50_000) as c:
        c.call("status")
    with ProtoClient(server.url, next_id=10) as low:  # id_old: refused unrun, sent above
        assert low.call("config.get")["pin_set"] is True
    assert json.loads(server.requests[-1])["id"] == 50_001
    with ProtoClient(server.url, next_id=50_001) as same:  # id_reused: another request
        assert same.call("status")["state"] == "idle"
    assert json.loads(server.requests[-1])["id"] == 50_002


def test_first_ids_grow_with_time() -> None:
    assert first_id(1735689600 + 10.0) == 100
    assert first_id(1735689600 + 10.05) < first_id(1735689600 + 10.15)


def _pumpctl(server: PumpServer, *args: str, pin: str | None = PIN) -> tuple[int, str, str]:
    extra = ["--pin", pin] if pin else []
    r = CliRunner(mix_stderr=False).invoke(cli, ["--port", server.url, *extra, *args])
    return r.exit_code, r.stdout, r.stderr


def test_pumpctl_program_start_bolus_and_a_pump_error_on_one_line(
    server: PumpServer, tmp_path: Path
) -> None:
    spec = tmp_path / "oct.json"
    spec.write_text(json.dumps(OCT))
    code, out, err = _pumpctl(server, "program", str(spec), pin=None)
    assert code != 0 and "PIN" in err  # refused before anything is sent
    assert server.requests == []
    code, out, err = _pumpctl(server, "program", str(spec))
    assert code == 0, err
    assert "summary" in out
    code, out, err = _pumpctl(server, "start", "--json")
    assert code == 0 and json.loads(out) == {"state": "running"}
    server.rig.run(60)
    code, out, err = _pumpctl(server, "bolus")
    assert code == 0 and "bolus_ml" in out
    server.rig.run(400)  # the bolus is over: the next one meets the lockout
    code, out, err = _pumpctl(server, "bolus")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pumpctl: pump error bolus_denied (lockout):")
    code, out, err = _pumpctl(server, "titrate", "--dose", "2167")
    assert code == 0 and "rate_ml_h" in out, err
    code, out, err = _pumpctl(server, "status", "--json")
    assert json.loads(out)["boluses"] == 1
    code, out, err = _pumpctl(server, "titrate", "--dose", "2167", pin="9999")
    assert code == 1 and "pump error pin_wrong" in err


def test_pumpctl_without_a_pump_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    r = CliRunner(mix_stderr=False).invoke(cli, ["--port", f"socket://127.0.0.1:{port}", "stop"])
    assert r.exit_code == 2 and "cannot open" in r.stderr
