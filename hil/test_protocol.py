"""The pump protocol on the real image, over its own channel: UART1 (firmware/protolink.py),
which the virtual Pico puts on a TCP port (VirtualBoard.proto_url) with its wire timing.

Program with PIN and token, start, titrate, a bolus and its lockout, a retry that must not
double the bolus (counted in STEP pulses by the rig), malformed lines that change nothing,
the locked clinical mode with the REPL off and back, and the wrong-PIN lockout (last: it
leaves PIN commands locked for a minute).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from dut import DUT, DUTSilent
from plan import steps_after
from rig import VirtualRig

from pump import rate as rates
from pumphost.protocol.client import ProtoClient, PumpError

SYRINGE = "bd-plastipak-10ml"
PIN = "2468"
PROGRAM = {
    "rate_ml_h": "2",
    "titration": {"max_rate_ml_h": "3", "steps": []},
    "bolus": {"volume_ml": "0.05", "rate_ml_h": "20", "lockout_min": 30, "max_per_h": 1},
    "max_24h_ml": "80",
}
BOLUS_S = 9  # 0.05 mL at 20 mL/h
FAST_NS = 10_000_000  # a step interval under 10 ms: basal 3 + bolus 20 mL/h (6.5 ms), not 3 (50)


def _client(url: str | None) -> ProtoClient:
    if url is None:
        pytest.skip(
            "SKIPPED LOUDLY: no protocol port: pass --proto with the pump's UART1 (GP8/GP9) "
            "serial port or socket URL"
        )
    return ProtoClient(url, pin=PIN, timeout=10.0, retries=2)


@pytest.fixture
def proto(pump: DUT, proto_url: str | None) -> Iterator[ProtoClient]:
    """A protocol session with the clinician PIN set (once per flash) and a stopped pump."""
    with _client(proto_url) as c:
        if not c.call("config.get")["pin_set"]:
            c.call("pin.change", {"new": PIN})
        yield c
        c.call("stop")


def _lines(c: ProtoClient, data: bytes, n: int) -> list[dict]:
    """Sends raw bytes and reads n answer lines."""
    c.port.write(data)
    out = []
    for _ in range(n):
        line = c._readline(time.monotonic() + 10)
        assert line is not None, f"no answer to {data[:60]!r}"
        out.append(json.loads(line))
    return out


def _program(c: ProtoClient, spec: dict) -> dict:
    checked = c.call("program.validate", {"program": spec})
    return c.call("program.set", {"token": checked["token"]})


@pytest.mark.rig("pins", "time")
def test_program_titrate_bolus_lockout_and_a_retry_that_gives_nothing(
    proto: ProtoClient, rig: VirtualRig
) -> None:
    c = proto
    checked = c.call("program.validate", {"program": PROGRAM})
    assert checked["summary"]["bolus_ml"] == "0.05"
    c.pin = None
    with pytest.raises(PumpError) as e:  # the token is no use without the PIN
        c.call("program.set", {"token": checked["token"]})
    assert e.value.code == "pin_required"
    c.pin = PIN
    with pytest.raises(PumpError) as e:
        c.call("program.set", {"token": "0" * 16})
    assert e.value.code == "token_invalid"
    summary = c.call("program.set", {"token": checked["token"]})["summary"]
    assert summary["bolus_ml"] == "0.05"
    assert c.call("start") == {"state": "running"}
    assert c.call("titrate", {"rate_ml_h": "3"}) == {"rate_ml_h": "3.0000"}
    with pytest.raises(PumpError) as e:
        c.call("titrate", {"rate_ml_h": "4"})
    assert e.value.code == "out_of_range"
    rig.run_s(1)

    # The bolus, then the same request again after it ended: answered from the cache.
    t0 = rig.now_ns()
    line = json.dumps({"id": c.next_id, "cmd": "bolus"}).encode() + b"\n"
    c.next_id += 1
    (first,) = _lines(c, line, 1)
    assert first["ok"] and first["result"] == {"bolus_ml": "0.05", "duration_s": BOLUS_S}
    rig.run_s(BOLUS_S + 3)
    (again,) = _lines(c, line, 1)
    assert again == first
    rig.run_s(BOLUS_S + 3)  # a second bolus, had the retry run one, would be over by now
    st = c.call("status")
    assert st["boluses"] == 1 and st["bolus_ml_24h"] == "0.05"
    assert st["state"] == "running" and st["rate_ml_h"] == "3.0000", st

    steps = rig.step_times(t0)
    fast = sum(1 for a, b in zip(steps, steps[1:], strict=False) if b - a < FAST_NS)
    expected = steps_after(SYRINGE, rates.from_ml_per_h(23), BOLUS_S * 1_000_000_000)
    assert abs(fast - expected) <= 3, (fast, expected)  # one bolus, to a few steps

    with pytest.raises(PumpError) as e:  # a new request: the lockout
        c.call("bolus")
    assert e.value.code == "bolus_denied" and e.value.error["reason"] == "lockout"
    assert c.call("status")["boluses"] == 1


@pytest.mark.rig("time")
def test_malformed_lines_get_errors_and_change_nothing(
    proto: ProtoClient, rig: VirtualRig
) -> None:
    c = proto
    _program(c, {"rate_ml_h": "5"})
    c.call("start")
    before = c.call("status")
    n = c.next_id
    bad = [
        (b"{not json\n", "bad_json"),
        (b"\xff\xfe\n", "bad_json"),
        (b"[1, 2]\n", "bad_request"),
        (b'{"id": "7", "cmd": "stop"}\n', "bad_request"),
        (b'{"id": %d, "cmd": "stop", "evil": 1}\n' % n, "bad_request"),
        (b'{"id": %d, "cmd": "rm -rf"}\n' % (n + 1), "unknown_command"),
        (
            b'{"id": %d, "cmd": "titrate", "args": {"rate_ml_h": 6.0}, "pin": "%s"}\n'
            % (n + 2, PIN.encode()),
            "bad_arg",
        ),
        (b'{"id": %d, "cmd": "stop"}\n' % (n - 100), "id_old"),
        (b'{"id": %d, "cmd": "pause"' % (n + 3) + b" " * 600 + b"}\n", "too_long"),
    ]
    c.next_id = n + 4
    for data, code in bad:
        (resp,) = _lines(c, data, 1)
        assert resp["ok"] is False and resp["error"]["code"] == code, (data[:40], resp)
    after = c.call("status")
    assert after["state"] == "running" == before["state"]
    assert after["rate_ml_h"] == before["rate_ml_h"] == "5.0000"
    assert after["alarms"] == [] and after["steps"] >= before["steps"]


def _repl_answers(url: str) -> bool:
    try:
        DUT(url).probe(timeout=4.0)
    except DUTSilent:
        return False
    return True


@pytest.mark.rig("time", "power")
def test_clinical_mode_turns_the_repl_off_until_engineering_mode_and_a_reset(
    proto: ProtoClient, rig: VirtualRig, dut: DUT
) -> None:
    c = proto
    c.call("stop")
    c.pin = None
    with pytest.raises(PumpError) as e:  # the mode needs the PIN too
        c.call("config.set", {"mode": "engineering"})
    assert e.value.code == "pin_required"
    c.pin = PIN
    assert c.call("config.set", {"mode": "clinical"})["saved"] == ["mode"]
    assert _repl_answers(dut.url)  # at the next reset, not now
    rig.reset()
    try:
        assert not _repl_answers(dut.url)  # Ctrl-C, Ctrl-A: read and dropped, no prompt
        assert not _repl_answers(dut.url)
        st = c.call("status")
        assert st["mode"] == "clinical" and st["state"] == "idle"
        # The pump works through the protocol alone: its service step and the protocol
        # poll run while the foreground sits in the REPL-off loop. A reset leaves no
        # syringe loaded: load, program, start.
        c.call("load", {"syringe": SYRINGE, "fill_ml": "10"})
        _program(c, {"rate_ml_h": "5"})
        c.call("start")
        t = rig.now_ns()
        rig.run_s(2)
        expected = steps_after(SYRINGE, rates.from_ml_per_h(5), 2_000_000_000)
        assert abs(len(rig.step_times(t)) - expected) <= 2
        c.call("stop")
    finally:
        c.call("config.set", {"mode": "engineering"})
        rig.reset()
    assert _repl_answers(dut.url)
    assert dut.eval("pump.status()['state']") == "idle"
    assert c.call("status")["mode"] == "engineering"


@pytest.mark.rig("time", "power")
def test_a_new_image_leaves_clinical_mode(proto: ProtoClient, rig: VirtualRig, dut: DUT) -> None:
    """Reflashing is the other way out of clinical mode (without the PIN): the board keeps
    the id of the image that booted last on flash, and a different one at boot means a
    reflash. Writing another id there while the REPL is still on stands in for flashing a
    new image (what a reflash changes is the frozen id)."""
    c = proto
    c.call("stop")
    assert c.call("config.set", {"mode": "clinical"})["saved"] == ["mode"]
    dut.exec("f = open('/image_id', 'w')\nf.write('an older image')\nf.close()")
    rig.reset()
    try:
        assert _repl_answers(dut.url)  # engineering mode: the REPL is back
        assert c.call("status")["mode"] == "engineering"
        assert dut.eval("open('/image_id').read()") == dut.eval("__import__('imageid').ID")
    finally:
        c.call("config.set", {"mode": "engineering"})
    rig.reset()  # the same image again: nothing changes
    assert _repl_answers(dut.url) and c.call("status")["mode"] == "engineering"


@pytest.mark.rig("time")
def test_an_idle_link_polls_slowly_and_still_answers(
    proto: ProtoClient, rig: VirtualRig, dut: DUT
) -> None:
    """The UART poll drops to every 100 ms after a quiet second (an idle poll costs as much
    as a service step), and the first request brings it back to 20 ms."""
    slow = "__import__('boardapp').link.slow"
    proto.call("status")
    assert dut.eval(slow) is False
    rig.run_s(1.5)
    assert dut.eval(slow) is True
    assert proto.call("status")["state"] in ("idle", "stopped", "running", "paused")
    assert dut.eval(slow) is False


@pytest.mark.rig("time")
def test_a_half_line_from_a_host_that_went_away_is_dropped(
    pump: DUT, proto_url: str | None
) -> None:
    """A UART has no disconnect: a host gone mid-line leaves its half in the board's line
    buffer. After a quiet second the board drops it, so the next host's first request is
    answered, not glued to the half (the virtual board holds the next client's bytes for the
    time a wire would have given: between two clients its clock stands still)."""
    dropped = "__import__('boardapp').link.proto.dropped"
    before = pump.eval(dropped)
    with _client(proto_url) as gone:
        gone.port.write(b'{"id": %d, "cmd": "pau' % gone.next_id)
        gone.port.flush()
    with _client(proto_url) as c:
        t = time.monotonic()
        (resp,) = _lines(c, b'{"id": %d, "cmd": "status"}\n' % c.next_id, 1)
        waited = time.monotonic() - t
    assert resp["ok"] is True and resp["id"] == c.next_id, resp
    assert "state" in resp["result"]
    assert pump.eval(dropped) == before + 1
    assert waited < 8, waited  # the hold is 1.5 s of simulated time, paced


def _wrong_pins(c: ProtoClient, n: int) -> None:
    c.pin = "0000"
    try:
        for i in range(n):
            with pytest.raises(PumpError) as e:
                c.call("titrate", {"rate_ml_h": "1"})
            assert e.value.code == "pin_wrong" and f"({i + 1} of {n})" in e.value.message
    finally:
        c.pin = PIN


@pytest.mark.rig("time", "power")
def test_wrong_pins_lock_every_pin_command_even_across_a_reset(
    proto: ProtoClient, rig: VirtualRig, report: list[str]
) -> None:
    """Last in this file: it leaves the PIN commands locked out (15 min after a reset)."""
    c = proto
    c.call("config.set", {"pin_tries": 3, "lockout_min": 1})
    _wrong_pins(c, 3)
    with pytest.raises(PumpError) as e:
        c.call("clock.set", {"utc": 1767225600})  # the right PIN, now locked out
    assert e.value.code == "pin_locked"
    assert c.call("status")["state"] == "idle"  # reads need no PIN
    t = time.monotonic()
    rig.run_s(61)
    report.append(f"protocol: 61 simulated s idle took {time.monotonic() - t:.1f} s")
    assert c.call("clock.set", {"utc": 1767225600})["to"] == 1767225600
    _wrong_pins(c, 3)
    rig.reset()  # the count is on flash: the board comes back locked out
    with pytest.raises(PumpError) as e:
        c.call("clock.set", {"utc": 1767225600})
    assert e.value.code == "pin_locked"
    assert c.call("status")["state"] == "idle"
