"""Fuzzing of the pump protocol (pump.protocol) on the emulator's pump: random command
sequences checked against the safety invariants (tests/test_protocol_invariants.py's machine,
run outside pytest), and fuzzed lines (random bytes, truncated and oversized lines, wrong
types) that must each get one well-formed error and change nothing.

`python -m pumphost.protocol.fuzz SEQUENCES LINES` prints the counts and violations (`make
fuzz`); exit status 1 on any violation.
"""

from __future__ import annotations

import json
import random
import sys
import time

from pumphost import paths

sys.path.insert(0, str(paths.REPO / "tests" / "core"))
from progrig import PIN, Rig

_GOOD = [
    {"cmd": "status"},
    {"cmd": "bolus"},
    {"cmd": "pause"},
    {"cmd": "resume"},
    {"cmd": "titrate", "args": {"dose_ug_24h": 2000}, "pin": PIN},
    {"cmd": "clock.set", "args": {"utc": 1798761600}, "pin": PIN},
    {"cmd": "config.get"},
    {"cmd": "program.validate", "args": {"program": {"rate_ml_h": "1"}}},
]


def _mutate(rng: random.Random, rid: int) -> bytes:
    req = dict(rng.choice(_GOOD), id=rid)
    line = json.dumps(req).encode()
    k = rng.randrange(9)
    if k == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))
    if k == 1:
        return line[: rng.randrange(1, len(line))]  # truncated
    if k == 2:
        return line[:-1] + b" " * 600 + b"}"  # oversized
    if k == 3:  # wrong types
        req["args"] = rng.choice([[1], "x", 5, {"dose_ug_24h": "many"}, {"seq": 1.5}])
        return json.dumps(req).encode()
    if k == 4:
        req["cmd"] = rng.choice(["", "status ", "STOP", "bolus!", 7, None])
        return json.dumps(req).encode()
    if k == 5:
        req["id"] = rng.choice([-1, 1.5, "7", None, True, 1 << 40])
        return json.dumps(req).encode()
    if k == 6:
        b = bytearray(line)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if k == 7:
        req["pin"] = rng.choice(["0000", 1234, "", "x" * 40])
        return json.dumps(req).encode()
    # A key twice (the last would win in json.loads): at the top or in args, maybe escaped.
    key = rng.choice(["cmd", "id", "args", "pin"])
    dup = json.dumps(key) if rng.random() < 0.5 else f'"\\u{ord(key[0]):04x}{key[1:]}"'
    value = rng.choice(['"stop"', '"pause"', "{}", '{"dose_ug_24h": 900}', str(rid + 1)])
    return line[:-1] + f", {dup}: {value}}}".encode()


def _has_duplicate_key(line: bytes) -> bool:
    """The oracle: CPython's json with a hook that sees every pair."""
    found = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in items]
        found.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    try:
        json.loads(line, object_pairs_hook=pairs)
    except (ValueError, UnicodeDecodeError):
        return False
    return bool(found)


def fuzz_lines(n: int, seed: int = 1) -> tuple[int, int, int, list[str]]:
    """Fuzzed lines against a running pump: returns (lines, errors, accepted, violations).
    A line that is refused must leave the pump as it was, and every answer must be one JSON
    line with ok, and an error code and message when not ok."""
    rng = random.Random(seed)
    r = Rig(fill="10")
    r.program({"dose_ug_24h": 1632, "conc_ug_ml": 500, "titration": {"max_dose_ug_24h": 2500},
               "max_24h_ug": 3000, "bolus": {"dose_ug": 50, "rate_ml_h": "2",
                                              "lockout_min": 30, "max_per_h": 2}})  # fmt: skip
    r.ok("start")
    violations: list[str] = []
    errors = accepted = 0
    rid = 10_000
    for i in range(n):
        rid += 1
        line = _mutate(rng, rid)
        before = r.snapshot()
        raw = r.proto.handle_line(line)
        if not raw.endswith(b"\n") or raw.count(b"\n") != 1 or len(raw) > 4096:
            violations.append(f"line {i}: answer not one bounded line: {raw[:80]!r}")
            continue
        resp = json.loads(raw)
        if resp.get("ok") is True:
            accepted += 1
            if _has_duplicate_key(line):
                violations.append(f"line {i}: a duplicate key was accepted: {line[:80]!r}")
        else:
            errors += 1
            err = resp.get("error") or {}
            if not err.get("code") or not err.get("message"):
                violations.append(f"line {i}: error without code or message: {resp}")
            if r.snapshot() != before and err.get("code") != "fault":
                violations.append(f"line {i}: refused {line[:60]!r} but changed the pump")
        if i % 50 == 0:
            r.run(2)
    part, cached = r.proto.held()
    if part or cached > 16:
        violations.append("unbounded memory")
    return n, errors, accepted, violations


def fuzz_sequences(n: int, seed: int = 2) -> tuple[int, int, list[str]]:
    """Random command sequences through the hypothesis machine's rules, without pytest."""
    sys.path.insert(0, str(paths.REPO / "tests"))
    from test_protocol_invariants import ProtocolMachine  # noqa: PLC0415

    rng = random.Random(seed)
    violations: list[str] = []
    steps = 0
    rules = ["start", "pause", "resume", "bolus", "titrate", "clock_set", "alarm",
             "ack_and_clear", "advance", "advance", "stop"]  # fmt: skip
    for k in range(n):
        m = ProtocolMachine()
        m.setup(rng.randrange(1 << 30), rng.randrange(800, 2401), rng.randrange(1, 91),
                rng.randrange(1, 3), rng.randrange(0, 401), rng.choice([20, 50, 100]))  # fmt: skip
        try:
            for _ in range(rng.randrange(5, 25)):
                name = rng.choice(rules)
                steps += 1
                if name == "titrate":
                    m.titrate(rng.randrange(500, 3001), rng.random() < 0.8)
                elif name == "clock_set":
                    m.clock_set(rng.randrange(1_600_000_000, 2_000_000_000))
                elif name == "advance":
                    m.advance(rng.randrange(1, 600), 1)
                elif name == "stop":
                    m.stop(rng.randrange(0, 10))
                else:
                    getattr(m, name)()
                m.never_more_than_allowed_plus_one_step()
                m.the_24h_cap_holds()
                m.no_alarm_from_the_program()
        except AssertionError as e:
            violations.append(f"sequence {k}: {e}")
    return n, steps, violations


def main() -> None:
    seqs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    t = time.time()
    n, errors, accepted, v1 = fuzz_lines(lines)
    print(f"protocol lines: {n} fuzzed, {errors} refused, {accepted} accepted, "
          f"{len(v1)} violations ({time.time() - t:.0f} s)")  # fmt: skip
    t = time.time()
    n, steps, v2 = fuzz_sequences(seqs)
    print(f"protocol sequences: {n} ({steps} commands), {len(v2)} violations "
          f"({time.time() - t:.0f} s)")  # fmt: skip
    for v in (v1 + v2)[:20]:
        print("  " + v)
    sys.exit(1 if v1 or v2 else 0)


if __name__ == "__main__":
    main()
