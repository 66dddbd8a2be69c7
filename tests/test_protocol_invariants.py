"""Safety invariants of programs and the protocol, as a hypothesis state machine over random
commands, clock changes, tick wraps and time jumps (tests/core/progrig.Rig: the pump with
the runner and the protocol on a simulated clock). The oracle is the test's own: what it
asked for, integrated exactly, never the core's bookkeeping."""

import json
from fractions import Fraction

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from progrig import PIN, SECOND, Rig

US_PER_H = 3_600_000_000
CONC = 500


class ProtocolMachine(RuleBasedStateMachine):
    @initialize(
        start_tick=st.integers(0, (1 << 30) - 1),
        dose=st.integers(800, 2400),
        lockout_min=st.integers(1, 90),
        max_per_h=st.integers(1, 2),
        extra_ug=st.integers(0, 400),
        bolus_ug=st.sampled_from([20, 50, 100]),
    )
    def setup(self, start_tick, dose, lockout_min, max_per_h, extra_ug, bolus_ug):
        self.r = Rig(fill="10", start_tick=start_tick)
        self.vol = Fraction(*self.r.pump.controller.vol)
        tmax = 2500
        self.max24_ug = tmax + bolus_ug + extra_ug
        self.spec = {
            "dose_ug_24h": dose, "conc_ug_ml": CONC, "max_24h_ug": self.max24_ug,
            "titration": {"max_dose_ug_24h": tmax},
            "bolus": {"dose_ug": bolus_ug, "rate_ml_h": "2", "lockout_min": lockout_min,
                      "max_per_h": max_per_h},
        }  # fmt: skip
        self.r.program(self.spec)
        self.bolus_nl = Fraction(bolus_ug * 1_000_000, CONC)
        self.lockout_us = lockout_min * 60 * SECOND
        self.max_per_h = max_per_h
        self.basal = Fraction(dose * 1_000_000, 24 * CONC)  # nL/h, the test's own
        self.allowed = Fraction(0)  # nL the program allowed so far
        self.since = 0
        self.running = False
        self.grants = []  # elapsed us of each granted bolus
        self.samples = [(0, 0)]  # (elapsed us, pulses)
        self.answers = {}  # id -> response bytes
        self.next_id = 1000

    # --- the oracle: integrate the basal while running ---

    def _integrate(self):
        t = self.r.clock.elapsed
        if self.running:
            self.allowed += self.basal * (t - self.since) / US_PER_H
        self.since = t

    def _send(self, cmd, args=None, pin=None, rid=None):
        self._integrate()
        if rid is None:
            self.next_id += 1
            rid = self.next_id
        req = {"id": rid, "cmd": cmd}
        if args is not None:
            req["args"] = args
        if pin is not None:
            req["pin"] = pin
        line = json.dumps(req).encode()
        before = self.r.snapshot()
        alarms = [a.kind for a in self.r.pump._alarms.active()]
        raw = self.r.proto.handle_line(line)
        resp = json.loads(raw)
        if not resp["ok"]:
            assert self.r.snapshot() == before, (cmd, resp)  # a refusal changes nothing
        if rid in self.answers:
            assert raw == self.answers[rid]
        self.answers[rid] = raw
        self.running = self.r.pump.state == "running"
        self.since = self.r.clock.elapsed
        return resp, alarms

    # --- rules ---

    @rule()
    def start(self):
        self._send("start")

    @rule()
    def pause(self):
        self._send("pause")

    @rule()
    def resume(self):
        self._send("resume")

    @rule(p=st.integers(0, 30))
    def stop(self, p):
        if p == 0:  # rarely: a stopped pump refuses nearly everything after
            resp, _ = self._send("stop")
            assert resp["ok"]

    @rule()
    def bolus(self):
        t = self.r.clock.elapsed
        n = self.r.runner.boluses
        resp, alarms = self._send("bolus")
        if resp["ok"]:
            assert self.r.runner.boluses == n + 1
            assert not alarms, "a bolus in an alarm"
            if self.grants:
                assert t - self.grants[-1] >= self.lockout_us - SECOND, "a bolus in lockout"
            recent = [g for g in self.grants if t - g < 3600 * SECOND]
            assert len(recent) < self.max_per_h, "over the hourly maximum"
            self.grants.append(t)
            self.allowed += self.bolus_nl
        else:
            assert self.r.runner.boluses == n
            assert resp["error"]["code"] in ("bolus_denied", "fault"), resp

    @rule(gap_min=st.integers(1, 70))
    def two_boluses(self, gap_min):
        self.bolus()
        self.advance(gap_min * 60, 1)
        self.bolus()

    @rule(data=st.data())
    def retry(self, data):
        if not self.answers:
            return
        rid = data.draw(st.sampled_from(sorted(self.answers)))
        n = self.r.runner.boluses
        pulses_before = self.r.snapshot()
        raw = self.r.proto.handle_line(json.dumps({"id": rid, "cmd": "bolus"}).encode())
        resp = json.loads(raw)
        if raw != self.answers[rid]:
            assert resp["error"]["code"] in ("id_reused", "id_old"), resp
        assert self.r.runner.boluses == n and self.r.snapshot() == pulses_before

    @rule(dose=st.integers(500, 3000), good_pin=st.booleans())
    def titrate(self, dose, good_pin):
        pin = PIN if good_pin else "9999"
        resp, _ = self._send("titrate", {"dose_ug_24h": dose}, pin)
        if resp["ok"]:
            assert good_pin and dose <= 2500
            self.basal = Fraction(dose * 1_000_000, 24 * CONC)

    @rule(utc=st.integers(1_600_000_000, 2_000_000_000))
    def clock_set(self, utc):
        self._send("clock.set", {"utc": utc}, PIN)

    @rule(line=st.one_of(
        st.binary(max_size=80),
        st.text(max_size=60).map(str.encode),
        st.builds(lambda c, a: json.dumps({"id": 1, "cmd": c, "args": a}).encode(),
                  st.sampled_from(["bolus", "titrate", "start", "program.set", "nope"]),
                  st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=5),
                                  max_size=3)),
    ))  # fmt: skip
    def garbage(self, line):
        self._integrate()
        before = self.r.snapshot()
        n = self.r.runner.boluses
        resp = json.loads(self.r.proto.handle_line(line))
        if not resp["ok"]:
            assert self.r.snapshot() == before
        assert self.r.runner.boluses <= n + 1

    @rule()
    def alarm(self):
        self.r.pump._alarms.raise_(self.r.clock.ticks(), "near_empty", "injected")

    @rule()
    def ack_and_clear(self):
        self.r.pump._alarms.clear(self.r.clock.ticks(), "near_empty")

    @rule(seconds=st.integers(1, 900), every=st.sampled_from([1, 2]))
    def advance(self, seconds, every):
        self._integrate()
        self.r.run(seconds - seconds % every or every, every)
        self._integrate()
        self.running = self.r.pump.state == "running"
        self.samples.append((self.r.clock.elapsed, self.r.st.pulses))

    # --- invariants ---

    @invariant()
    def never_more_than_allowed_plus_one_step(self):
        if not hasattr(self, "r"):
            return
        self._integrate()
        delivered = self.r.st.pulses * self.vol
        assert delivered <= self.allowed + self.vol, (float(delivered), float(self.allowed))

    @invariant()
    def the_24h_cap_holds(self):
        if not hasattr(self, "r"):
            return
        cap = Fraction(self.max24_ug * 1_000_000, CONC)
        t_now, n_now = self.r.clock.elapsed, self.r.st.pulses
        for t, n in self.samples:
            if t_now - t <= 24 * US_PER_H // 1:
                assert (n_now - n) * self.vol <= cap + self.vol

    @invariant()
    def no_alarm_from_the_program(self):
        if not hasattr(self, "r"):
            return
        kinds = {a.kind for a in self.r.pump._alarms.active()}
        assert not kinds & {"software_fault", "step_late", "step_underrun", "step_early"}, kinds


ProtocolMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestProtocolInvariants = ProtocolMachine.TestCase
