import json

from progrig import PIN, SECOND, Rig

from pump import protocol

OCT = {
    "dose_ug_24h": 1632,
    "conc_ug_ml": 500,
    "max_24h_ug": 3000,
    "bolus": {"dose_ug": 50, "rate_ml_h": "1", "lockout_min": 30, "max_per_h": 1},
}


def _running():
    r = Rig()
    r.program(OCT)
    r.ok("start")
    r.run(60)
    return r


def _err(resp, code):
    assert resp["ok"] is False and resp["error"]["code"] == code, resp
    assert resp["error"]["message"]
    return resp["error"]


def test_program_with_pin_and_token_then_start_and_status():
    r = Rig()
    _err(r.send("program.set", {"token": "x"}, PIN), "pin_not_set")
    assert r.ok("pin.change", {"new": PIN}) == {"pin_set": True}
    assert r.store.data["pin_hash"] and PIN not in json.dumps(r.store.data)
    v = r.ok("program.validate", {"program": OCT})
    assert v["summary"]["dose_ug_24h"] == 1632 and v["summary"]["rate_ml_h"] == "0.1360"
    _err(r.send("program.set", {"token": v["token"]}), "pin_required")
    _err(r.send("program.set", {"token": "0" * 16}, PIN), "token_invalid")
    assert r.pump.program_rate is None  # nothing was set
    r.ok("program.set", {"token": v["token"]}, PIN)
    _err(r.send("program.set", {"token": v["token"]}, PIN), "token_invalid")  # single use
    assert r.ok("start") == {"state": "running"}
    r.run(10)
    s = r.ok("status")
    assert s["state"] == "running" and s["program"]["bolus_ml"] == "0.1"
    assert s["bolus_allowed"] is True


def test_wrong_pins_lock_out_and_the_lockout_ends():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    tok = r.ok("program.validate", {"program": OCT})["token"]
    for i in range(5):
        e = _err(r.send("program.set", {"token": tok}, "0000"), "pin_wrong")
        assert "%d of 5" % (i + 1) in e["message"]
    _err(r.send("program.set", {"token": tok}, PIN), "pin_locked")  # even the right one
    assert r.pump.program_rate is None
    r.run(901, 1)
    tok = r.ok("program.validate", {"program": OCT})["token"]
    r.ok("program.set", {"token": tok}, PIN)
    assert r.store.data["pin_fails"] == 0


def test_a_retried_bolus_is_answered_from_the_cache_and_given_once():
    r = _running()
    line = b'{"id": 500, "cmd": "bolus"}'
    first = r.proto.handle_line(line)
    assert json.loads(first)["ok"] and r.runner.boluses == 1
    n = r.proto.executed
    r.run(5)
    again = r.proto.handle_line(line)
    assert again == first and r.runner.boluses == 1 and r.proto.executed == n
    e = _err(json.loads(r.proto.handle_line(b'{"id": 500, "cmd": "status"}')), "id_reused")
    assert e
    # A new id is a new request: denied by the lockout, with its reason.
    e = _err(r.send("bolus", rid=501), "bolus_denied")
    assert e["reason"] in ("in_progress", "lockout")
    # An id below the highest, no longer cached, never runs (it may have run before).
    for i in range(502, 540):
        r.send("status", rid=i)
    _err(json.loads(r.proto.handle_line(line)), "id_old")
    assert r.runner.boluses == 1


def test_the_cache_is_bounded():
    r = Rig()
    for i in range(100):
        r.send("status", rid=i)
    assert len(r.proto._cache) == protocol.CACHE == len(r.proto._cache_ids)


def test_malformed_oversized_unknown_and_out_of_range_input_changes_nothing():
    r = _running()
    before = r.snapshot()
    cases = [
        (b"not json", "bad_json"),
        (b"\xff\xfe{", "bad_json"),
        (b"[1, 2]", "bad_request"),
        (b'{"cmd": "status"}', "bad_request"),
        (b'{"id": 1.5, "cmd": "status"}', "bad_request"),
        (b'{"id": true, "cmd": "status"}', "bad_request"),
        (b'{"id": "b-1", "cmd": "status"}', "bad_request"),
        (b'{"id": -3, "cmd": "status"}', "bad_request"),
        (b'{"id": 9001, "cmd": "explode"}', "unknown_command"),
        (b'{"id": 9002, "cmd": "stop", "extra": 1}', "bad_request"),
        (b'{"id": 9003, "cmd": "pause", "args": [1]}', "bad_arg"),
        (b'{"id": 9004, "cmd": "bolus", "args": {"dose_ug": 500}}', "bad_arg"),
        (
            b'{"id": 9005, "cmd": "titrate", "args": {"dose_ug_24h": 2000}, "pin": "4321"}',
            "refused",
        ),
        (b'{"id": 9006, "cmd": "clock.set", "args": {"utc": 5}, "pin": "4321"}', "out_of_range"),
        (b'{"id": 9007, "cmd": "log.read", "args": {"seq": -1}}', "out_of_range"),
        (
            b'{"id": 9008, "cmd": "program.validate", "args": {"program": {"rate_ml_h": 1.0}}}',
            "bad_arg",
        ),
        (
            b'{"id": 9009, "cmd": "config.set", "args": {"mode": "root"}, "pin": "4321"}',
            "out_of_range",
        ),
        (b'{"id": 9010, "cmd": "resume"}', "refused"),
        (b'{"id": 9011, "cmd": "' + b"a" * 600 + b'"}', "too_long"),
    ]
    for line, code in cases:
        resp = json.loads(r.proto.handle_line(line))
        _err(resp, code)
        assert r.snapshot() == before, line
    assert r.proto.settings.get("mode") is None


def test_feed_splits_lines_and_drops_oversized_ones():
    r = Rig()
    out = r.proto.feed(b'{"id": 1, "cmd": "status"}\n{"id": 2, "cmd": "sta')
    assert out.count(b"\n") == 1 and json.loads(out)["ok"]
    out = r.proto.feed(b'tus"}\n' + b"x" * 700 + b'\n{"id": 3, "cmd": "config.get"}\n')
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["id"] for x in lines] == [2, None, 3]
    assert lines[1]["error"]["code"] == "too_long" and lines[2]["ok"]
    assert len(r.proto._buf) == 0


def test_stop_pause_resume_titrate_clock_config_and_alarms():
    r = _running()
    t = dict(OCT, titration={"max_dose_ug_24h": 2500})
    r.ok("pause")
    tok = r.ok("program.validate", {"program": t})["token"]
    r.ok("program.set", {"token": tok}, PIN)
    r.ok("resume")
    _err(r.send("titrate", {"dose_ug_24h": 2600}, PIN), "out_of_range")
    assert r.ok("titrate", {"dose_ug_24h": 2167}, PIN) == {"rate_ml_h": "0.1806"}
    assert r.ok("clock.set", {"utc": 1798761600}, PIN)["to"] == 1798761600
    assert r.ok("status")["utc"] == 1798761600
    _err(r.send("alarm.ack"), "refused")
    r.ok("config.set", {"mode": "clinical", "pin_tries": 4}, PIN)
    assert r.store.data["mode"] == "clinical" and r.ok("config.get")["pin_tries"] == 4
    _err(r.send("log.read", {"seq": 0}), "not_available")  # an in-RAM log
    assert r.ok("stop") == {"state": "stopped"}
    assert r.ok("stop") == {"state": "stopped"}  # never refused
    _err(r.send("start"), "refused")
    r.ok("load", {"syringe": "bd-plastipak-10ml", "fill_ml": "5"}, PIN)
    assert r.ok("status")["program"] is None


def test_pin_change_needs_the_old_pin():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    _err(r.send("pin.change", {"new": "1111"}), "pin_required")
    _err(r.send("pin.change", {"new": "12"}, PIN), "out_of_range")
    r.ok("pin.change", {"new": "1111"}, PIN)
    _err(r.send("config.set", {"pin_tries": 3}, PIN), "pin_wrong")
    r.ok("config.set", {"pin_tries": 3}, "1111")


def test_second_is_a_million_us():
    assert SECOND == 1000000


def test_a_lockout_across_a_reset_lasts_the_configured_time():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    r.ok("config.set", {"lockout_min": 2}, PIN)
    tok = r.ok("program.validate", {"program": OCT})["token"]
    for _ in range(5):
        _err(r.send("program.set", {"token": tok}, "0000"), "pin_wrong")
    # A reset: a new handler on the same stored settings, still locked, for lockout_min.
    r.proto = protocol.Protocol(r.pump, r.store, rand=r._rand, runner=r.runner)
    r.ids = 0
    tok = r.ok("program.validate", {"program": OCT})["token"]
    _err(r.send("program.set", {"token": tok}, PIN), "pin_locked")
    r.run(121, 1)
    tok = r.ok("program.validate", {"program": OCT})["token"]
    r.ok("program.set", {"token": tok}, PIN)


def test_duplicate_keys_are_refused_at_any_depth_and_change_nothing():
    r = _running()
    before = r.snapshot()
    lines = [
        (b'{"id": 700, "cmd": "status", "cmd": "pause"}', 700),  # the last key won: paused
        (b'{"id": 701, "cmd": "pause", "args": {}, "args": {}}', 701),
        (b'{"id": 702, "id": 703, "cmd": "pause"}', None),  # which id? none
        (b'{"id": 704, "cmd": "pause", "c\\u006dd": "status"}', 704),  # the same key, escaped
        (
            b'{"id": 705, "cmd": "titrate", "args": {"dose_ug_24h": 2000, "dose_ug_24h": 900}'
            b', "pin": "4321"}',
            705,
        ),
        (
            b'{"id": 706, "cmd": "program.validate", "args": {"program": {"rate_ml_h": "1", '
            b'"bolus": {"volume_ml": "0.1", "rate_ml_h": "1", "rate_ml_h": "90", '
            b'"lockout_min": 30, "max_per_h": 1}, "max_24h_ml": "30"}}}',
            706,
        ),
    ]
    for line, rid in lines:
        resp = json.loads(r.proto.handle_line(line))
        e = _err(resp, "bad_request")
        assert "duplicate key" in e["message"] and resp["id"] == rid, resp
        assert r.snapshot() == before, line
    # The same name in two objects, or inside a string, is no duplicate.
    ok = (
        b'{"id": 710, "cmd": "program.validate", "args": {"program": {"rate_ml_h": "1", '
        b'"bolus": {"volume_ml": "0.1", "rate_ml_h": "1", "lockout_min": 30, "max_per_h": 1}, '
        b'"max_24h_ml": "30"}}}'
    )
    assert json.loads(Rig().proto.handle_line(ok))["ok"]  # (an idle pump takes a program)
    # MicroPython's json reads , and : as blanks: without them, still a duplicate (CPython's
    # refuses the line as it is).
    line = b'{"id": 712 "cmd" "status" "cmd" "pause"}'
    resp = json.loads(r.proto.handle_line(line))
    assert resp["ok"] is False and resp["error"]["code"] in ("bad_json", "bad_request"), resp
    assert r.snapshot() == before
    resp = json.loads(r.proto.handle_line(b'{"id": 711, "cmd": "no\\"cmd\\":\\"id", "x": []}'))
    _err(resp, "bad_request")  # an unknown key x, not a duplicate
    assert "duplicate" not in resp["error"]["message"]


def test_a_partial_line_is_dropped_after_a_quiet_gap_even_across_the_wrap():
    r = Rig()
    t = (1 << 30) - 300  # ms ticks, 300 ms before the wrap
    assert r.proto.feed(b'{"id": 1, "cmd": "pa', t) == b""  # a host went away mid-line
    assert r.proto.expire(t + protocol.GAP_MS - 1) is False  # still waiting for the rest
    out = r.proto.feed(b'{"id": 2, "cmd": "status"}\n', (t + protocol.GAP_MS) & ((1 << 30) - 1))
    resp = json.loads(out)
    assert resp["id"] == 2 and resp["ok"] and resp["result"]["state"] == "idle", resp
    assert r.proto.dropped == 1
    # A line that only comes slowly, byte by byte within the gap, is whole.
    t = 5
    for b in b'{"id": 3, "cmd": "status"}\n':
        t += protocol.GAP_MS - 1
        out = r.proto.feed(bytes((b,)), t)
    assert json.loads(out)["id"] == 3 and r.proto.dropped == 1
    # expire() on an idle link drops the half line too (the board's idle poll calls it).
    r.proto.feed(b'{"id": 4, "cm', 100)
    assert r.proto.expire(100 + protocol.GAP_MS) is True and len(r.proto._buf) == 0
    r.proto.feed(b"x" * 600, 200)  # an oversized line's tail, then the host went away
    assert r.proto.feed(b'{"id": 5, "cmd": "status"}\n', 200 + protocol.GAP_MS).count(b"\n") == 1
    assert r.proto.dropped == 3


def test_a_one_minute_lockout_says_one_minute_and_counts_down_in_whole_minutes():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    r.ok("config.set", {"lockout_min": 1}, PIN)
    tok = r.ok("program.validate", {"program": OCT})["token"]
    for _ in range(5):
        _err(r.send("program.set", {"token": tok}, "0000"), "pin_wrong")
    e = _err(r.send("program.set", {"token": tok}, PIN), "pin_locked")
    assert "locked for 1 min more" in e["message"], e
    r.run(59)
    e = _err(r.send("program.set", {"token": tok}, PIN), "pin_locked")
    assert "locked for 1 min more" in e["message"], e
    r.run(1)
    r.ok("program.set", {"token": tok}, PIN)
    r.ok("config.set", {"lockout_min": 2}, PIN)
    for _ in range(5):
        _err(r.send("config.get", None, "0000"), "bad_request")  # no PIN command: not counted
        _err(r.send("clock.set", {"utc": 1798761600}, "0000"), "pin_wrong")
    assert (
        "2 min more"
        in _err(r.send("clock.set", {"utc": 1798761600}, PIN), "pin_locked")["message"]
    )
    r.run(60)
    assert (
        "1 min more"
        in _err(r.send("clock.set", {"utc": 1798761600}, PIN), "pin_locked")["message"]
    )


def test_config_set_logs_pin_tries_and_lockout_min_when_they_change():
    from pump import events

    r = Rig()
    r.ok("pin.change", {"new": PIN})
    r.ok("config.set", {"pin_tries": 4, "lockout_min": 30}, PIN)
    r.ok("config.set", {"pin_tries": 4, "lockout_min": 20}, PIN)  # pin_tries unchanged
    got = [(x[3], x[4]) for x in r.pump.log.records() if x[2] == "config"]
    assert sorted(got[:2]) == sorted(
        [(events.CONFIG_PIN_TRIES, 4), (events.CONFIG_LOCKOUT_MIN, 30)]
    ), got
    assert got[2:] == [(events.CONFIG_LOCKOUT_MIN, 20)], got


def test_a_pin_goes_only_with_the_commands_that_need_one():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    for pin in ("0", "0000", PIN, 1234):
        for cmd in ("status", "config.get", "alarms"):
            e = _err(r.send(cmd, None, pin), "bad_request")
            assert "PIN" in e["message"], e
    # A malformed PIN on a PIN command is refused and never counts towards the lockout.
    for pin in ("0", "abcd", "12345678x", "", 1234, "١٢٣٤"):
        _err(r.send("config.set", {"pin_tries": 3}, pin), "pin_required")
    assert r.proto.settings.get("pin_fails", 0) == 0
    assert [x for x in r.pump.log.records() if x[2] == "pin" and x[3] == 1] == []
    _err(r.send("config.set", {"pin_tries": 3}, "9999"), "pin_wrong")  # well formed: counts
    assert r.proto.settings["pin_fails"] == 1
