"""Event-driven emulator: the firmware's application, `pump.api.Pump`, unchanged, on simulated
hardware (pumphost.sim.hal), with the service step at the board's cadence (`Pump.service_ms`,
the periods in pump.api).

Time jumps from event to event: a batch's last step, the service step due after it, a
scenario event. A service step at which nothing changed since the one before (no batch
finished, no command) cannot act, so it is skipped; every other one runs on the board's
grid. Nothing iterates per microsecond. An independent exact oracle (Fractions, no
planner code) computes the programmed volume.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from pump import alarms as al
from pump import app as core_app
from pump import controller as ctl
from pump import loadcell, mechanics
from pump import protocol as core_protocol
from pump import rate as core_rate
from pump import signals as core_signals
from pump.logring import LogRing
from pumphost.logs import plogfile
from pumphost.logs.nor import NorFlash
from pumphost.sim import plant
from pumphost.sim.battery import SimBattery
from pumphost.sim.bedside import Bedside
from pumphost.sim.hal import SimHX711, SimRetained, SimStepper, VirtualClock
from pumphost.sim.scenario import Command, Event, Press, Scenario

_US_PER_H = 3_600_000_000
LOG_SECTORS = 192  # as drivers/flashlog.py: LOG_BYTES on the Pico
START_UTC = 1_798_761_600  # 2027-01-01T00:00:00Z: a fixed start, so logs are reproducible


@dataclass
class Result:
    scenario: str
    duration_s: float
    programmed_nl: Fraction
    delivered_nl: Fraction
    steps: int
    state: str
    alarms: list[dict[str, object]]  # kind, priority, raised_s, cleared_s (None: active)
    log_records: int
    nl_per_step: Fraction
    remaining_nl: Fraction
    plunger_mm: float
    released_bolus_ul: float | None = None
    backoff_ul: float | None = None  # drawn back after an occlusion alarm
    # the alarm buzzer and LED: (s, sound priority, light priority) at every change
    signal: list[tuple[float, int, int]] = field(default_factory=list)

    @property
    def alarm_kinds(self) -> list[str]:
        return [str(a["kind"]) for a in self.alarms]

    def as_json(self) -> dict[str, object]:
        extra = {}
        if self.released_bolus_ul is not None:
            extra["released_bolus_ul"] = round(self.released_bolus_ul, 3)
        if self.backoff_ul is not None:
            extra["backoff_ul"] = round(self.backoff_ul, 3)
        return extra | {
            "scenario": self.scenario,
            "duration_s": self.duration_s,
            "programmed_ul": round(float(self.programmed_nl) / 1000, 4),
            "delivered_ul": round(float(self.delivered_nl) / 1000, 4),
            "steps": self.steps,
            "state": self.state,
            "alarms": self.alarms,
            "log_records": self.log_records,
            "nl_per_step": round(float(self.nl_per_step), 6),
            "remaining_ul": round(float(self.remaining_nl) / 1000, 4),
            "plunger_mm": round(self.plunger_mm, 4),
        }


class Emulator:
    def __init__(self, sc: Scenario, log: bool = False, screens: Path | None = None) -> None:
        """log: keep the dose and event log in a simulated NOR flash, through the firmware's
        own pump.logring (write it out with save_log). screens: a directory for PNGs of the
        bedside screen (pumphost.sim.bedside); with it, or [[press]] entries, the pump has
        its panel and keys, and the firmware's UI (pump/ui.py)."""
        self.sc = sc
        self.bedside = Bedside(screens) if sc.presses or screens is not None else None
        b = sc.board
        mech = {
            "lead_um": b.lead_um,
            "full_steps_per_rev": b.full_steps_per_rev,
            "microsteps": b.microsteps,
        }
        drive = mechanics.Drive(b.lead_um, b.full_steps_per_rev, b.microsteps)
        self.syringe = mechanics.Syringe(sc.syringe_id)
        self.vol = mechanics.nl_per_step(self.syringe, drive)
        self.clock = VirtualClock(sc.start_tick)
        self.stepper = SimStepper(self.clock, (drive.lead_um, drive.steps_per_rev))
        whole, frac = divmod(sc.fill_nl, 1_000_000)
        fill_ml = f"{whole}.{frac:06d}"  # exact: the fill is whole nL
        # With a plant: its force through the HX711's words into the board's own LoadCell.
        self.hx711: SimHX711 | None = None
        self.sensors: loadcell.LoadCell | None = None
        if sc.plant_seed is not None:
            self.plant = plant.for_syringe(
                self.syringe, drive, sc.fill_nl, sc.plant_seed, sc.faults
            )
            self.hx711 = SimHX711(self.plant, b.syringe_seated)
            self.sensors = self.hx711.load_cell(self.clock.ticks)
        self.log: LogRing | None = None
        self._flash: NorFlash | None = None
        if log:
            self._flash = NorFlash(LOG_SECTORS * 4096)
            self.log = LogRing(self._flash, self.clock.ticks(), log_id=sc.start_tick)
            self.log.set_utc(START_UTC)
        self.retained = SimRetained()
        # The alarm buzzer and LED: what the board's would play, as a timeline of (elapsed
        # us, sound priority, light priority) at every change (pump.signals.expand: pulses).
        self.signal = core_signals.Recorder(lambda: self.clock.elapsed_us)
        # The supply (issue 21): a cell discharging by the firmware's energy model, mains.
        self.battery: SimBattery | None = None
        self._power_events: list[tuple[float, str]] = []
        self._power_us = 0  # the battery has been drained up to here
        self.dead = False  # no supply: the pump is off until it comes back
        self.power_cuts: list[float] = []  # simulated s at which the supply failed
        if sc.power is not None:
            pw = sc.power
            self.battery = SimBattery(pw.battery, pw.charge_pm, pw.capacity_pm, pw.r_times)
            self.battery.mains = pw.mains
            self._power_events = list(pw.events)
        # The board's assembly (pump/app.py): the pump, its program runner and its protocol.
        seed = iter(range(1 << 30))
        self.hal = core_app.HAL(
            mech,
            self.stepper,
            self.clock.ticks,
            core_protocol.MemoryStore(),
            retained=self.retained,
            log=self.log,
            sensors=self.sensors,
            serial=sc.serial,  # the pump's name: its pulled logs carry it
            rand=lambda n: bytes((next(seed) * 7 + i) & 255 for i in range(n)),
            ceiling=sc.ceiling,
            signal=self.signal,
            supply=self.battery,
            display=self.bedside.panel if self.bedside else None,
            keys=self.bedside.keypad if self.bedside else None,
        )
        self._build()
        self.pump.load(sc.syringe_id, fill_ml)  # the pump boots empty: the nurse loads it
        self._alarm_times: dict[int, list[float | None]] = {}  # id(alarm) -> raised, cleared
        self._released: float | None = None
        self._releases = sorted(at for at, kind in sc.faults if kind == "occlusion_release")
        self._release_after: float | None = None  # see release_after_alarm()
        # Oracle: exact programmed volume, integrated from the rate actually in force.
        self._programmed = Fraction(0)
        self._rate = Fraction(0)
        self._rate_since = 0
        # A [[command]] script goes through the protocol handler; the clock set is logged.
        self.scripted = bool(sc.commands or sc.presses)
        self.responses: list[tuple[float, str, dict[str, object]]] = []
        self.answered: list[tuple[Command, str, dict[str, object]]] = []  # (command, line, resp)
        if self.scripted:
            self.runner.set_clock(self.clock.ticks(), START_UTC)
            self._in_force: tuple[int, int] | None = None

    def _build(self) -> None:
        app = core_app.build(self.hal)
        if app.proto is None:
            raise RuntimeError(f"the protocol was not built: {app.proto_error!r}")
        self.pump, self.runner, self.proto = app.pump, app.runner, app.proto
        if self.bedside is not None:
            self.bedside.attach(app.ui, self.run_until, self._elapsed, self._after_ui)

    def _elapsed(self) -> int:
        return self.clock.elapsed_us

    def _after_ui(self) -> None:
        """After a UI step: the oracle follows what its keys did to the program."""
        if self.scripted:
            self._follow_program()
        else:
            self._track_alarms()

    def reset(self, cause: str = "a watchdog reset") -> None:
        """A reset now, as on the board: the motor stops, RAM is lost (the pump, its runner
        and its protocol are built anew through pump.app.build), the flash (log, settings)
        stays, and so do the scratch registers on "a soft reset" or "a watchdog reset" (the
        pump then raises delivery_interrupted); any other cause clears them (the RUN pin)."""
        self.stepper.halt()
        self._oracle_rate(self.clock.elapsed_us, None)
        if cause not in ("a soft reset", "a watchdog reset"):
            self.retained.clear()
        self.hal.cause = cause
        if self._flash is not None:  # opening the log finds its head, as at the board's boot
            up = self.clock.elapsed_us // 1_000_000
            self.log = LogRing(self._flash, self.clock.ticks(), uptime=up)
            self.hal.log = self.log
        if self.hx711 is not None:  # boardapp starts the HX711 and makes its LoadCell anew
            self.hx711.clear()
            self.sensors = self.hal.sensors = self.hx711.load_cell(self.clock.ticks)
        self._build()
        if self.scripted:
            self._in_force = None

    def _oracle_to(self, t_us: int) -> None:
        self._programmed += self._rate * (t_us - self._rate_since) / _US_PER_H
        self._rate_since = t_us

    def _oracle_rate(self, t_us: int, rate: tuple[int, int] | None) -> None:
        self._oracle_to(t_us)
        self._rate = Fraction(*rate) if rate else Fraction(0)

    def _service(self) -> None:
        """The board's service step, then the oracle follows what it did to the pump."""
        if self.battery is not None and not self._power():
            return  # no supply: nothing runs
        was = self.pump.state
        self.pump.service()
        pw = self.pump.power  # the service step ran the gauge; the cell drains by its model
        if pw is not None and self.battery is not None:
            self.battery.ua = pw.supply.ua
        if self.scripted:
            self._follow_program()
            return
        if was == ctl.RUNNING and self.pump.state != ctl.RUNNING:
            # Complete: the program ended with the last step; a fault: at this service step.
            done = self.pump.state == ctl.COMPLETE
            self._oracle_rate(self.stepper.last_pulse_us if done else self.clock.elapsed_us, None)
        self._track_alarms()

    def _power(self) -> bool:
        """The battery drained to now at the pump's last current, its events applied; a
        supply lost cuts the power (the motor stops, RAM is lost), and its return boots the
        pump (a power-on: nothing kept). True while the pump has a supply."""
        b = self.battery
        assert b is not None
        t = self.clock.elapsed_us
        b.drain((t - self._power_us) // 1000)
        self._power_us = t - (t - self._power_us) % 1000
        while self._power_events and self._power_events[0][0] * 1e6 <= t:
            b.apply(self._power_events.pop(0)[1], t / 1e6)
        if not b.powered(starting=self.dead):
            if not self.dead:
                self.dead = True
                self.power_cuts.append(t / 1e6)
                self.stepper.halt()
                self._oracle_rate(t, None)
                b.ua = 0
            return False
        if self.dead:
            self.dead = False
            self.reset("a reset")
        return True

    def release_after_alarm(self, delay_s: float) -> None:
        """The line opens `delay_s` after the first occlusion alarm (the stopcock test of
        IEC 60601-2-24: a time no [[fault]] table can give, as the alarm's is not known in
        advance). `Result.released_bolus_ul` then says what flowed, as for a [[fault]]."""
        if self.sensors is None:
            raise ValueError("release_after_alarm needs the plant model ([plant])")
        self._release_after = delay_s

    def _track_alarms(self) -> None:
        """When each alarm was raised and cleared, in simulated seconds."""
        now = self.clock.elapsed_us / 1e6
        for a in self.pump.alarm_history():
            new = id(a) not in self._alarm_times
            if new and a.kind == "occlusion" and self._release_after is not None:
                self.plant.inject("occlusion_release", now + self._release_after)
                self._releases = sorted([*self._releases, now + self._release_after])
                self._release_after = None
            times = self._alarm_times.setdefault(id(a), [now, None])
            if new and self.bedside is not None:
                self.bedside.alarm(a.kind)  # the alarm screen, and its PNG
            if a.cleared is not None and times[1] is None:
                times[1] = now

    def _sample(self, t_us: int) -> None:
        """An HX711 conversion at t_us, then a service step: the board's grid where its period
        is the sample period (100 ms); at the calm 500 ms the board's steps are fewer, and it
        sees an open cell 0.4-1.1 s later than this (tests/test_load_cell_rules.py)."""
        assert self.sensors is not None
        self.stepper.run_to(t_us)
        self.clock.advance_to(t_us)
        t_s = t_us / 1e6
        if self._releases and t_s >= self._releases[0]:
            self._releases.pop(0)
            if self.pump.state == ctl.PAUSED and self._released is None:
                # The line opens on a stopped pump: what is trapped above the patient's
                # pressure flows out (the IEC 60601-2-24 bolus after an occlusion).
                p = self.plant
                self._released = p.trapped_ul - p.compliance * p.back_pressure(t_s)
        self.hx711.sample(t_s, self.stepper.position)  # type: ignore[union-attr]
        self._service()

    def run_until(self, t_us: int) -> None:
        """Run the executor and the service steps due up to t_us; with a load cell, every
        sample is an event (and the service step after it)."""
        if self.sensors is None and self.log is None and self.battery is None:
            self._run_steps(t_us)
            return
        # A load cell samples at 10 Hz; the log wants a service step at least each second
        # (its DELIVERED records are due on the minute, to the second).
        period = loadcell.PERIOD_US if self.sensors is not None else 1_000_000
        while True:
            nxt = (self.clock.elapsed_us // period + 1) * period
            if nxt > t_us:
                break
            self._run_steps(nxt - 1)
            if self.sensors is not None:
                self._sample(nxt)
            else:
                self.stepper.run_to(nxt)
                self.clock.advance_to(nxt)
                self._service()
        self._run_steps(t_us)

    def save_log(self, path: Path) -> int:
        """Write the log as `pumpctl logs pull` would have pulled it; returns the records."""
        assert self.log is not None
        entries = bytearray()
        seq = 0
        while page := self.log.read(seq, 128):
            entries += page
            seq = int.from_bytes(page[-20:-16], "little") + 1
        plogfile.write(path, bytes(entries), plogfile.Ident.of(self.pump.ident()))
        return len(entries) // 20

    def _run_steps(self, t_us: int) -> None:
        """Run the executor and the service steps its batches call for, up to t_us."""
        st, clock = self.stepper, self.clock
        next_done, run_to, service_ms = st.next_done_us, st.run_to, self.pump.service_ms
        while True:
            done = next_done()
            if done is None or done > t_us:
                break
            period = service_ms() * 1000  # as the board's timer
            service = -(-done // period) * period  # the first service step after it
            if service > t_us:
                break
            run_to(service)
            clock.advance_to(service)
            self._service()
        st.run_to(t_us)
        clock.advance_to(t_us)

    def _apply(self, ev: Event) -> str | None:
        """Apply one event now; return why it was not applied, or None. The scenario refused
        every sequence it could know to be impossible; what is left is known only now."""
        t = self.clock.elapsed_us
        pump = self.pump
        if pump.state in (ctl.COMPLETE, ctl.STOPPED):
            alarms = pump.status()["alarms"]
            why = f" ({', '.join(alarms)})" if alarms else ""
            return f"the pump was already {pump.state}{why}"
        if ev.action == "pause":
            pump.pause()
            self._oracle_rate(t, None)
        elif ev.action == "resume":
            pump.resume()
            self._oracle_rate(t, pump.program_rate)
        elif ev.action == "stop":
            pump.stop()
            self._oracle_rate(t, None)
        elif ev.action == "stall":
            self.stepper.stall(ev.stall_us)
        else:
            assert ev.rate is not None
            if ev.dose:
                pump.dose(*ev.dose)
            else:
                pump.set_rate_nl_h(*ev.rate)
            if pump.state == ctl.RUNNING:
                self._oracle_rate(t, ev.rate)
        return None

    # --- a [[command]] script through the protocol ---

    def _rate_in_force(self) -> tuple[int, int] | None:
        c = self.pump.controller
        if c.state != ctl.RUNNING or c.held():
            return None
        if c.boosting():
            b = self.runner.prog.bolus_rate
            return (c.rate[0] * b[1] + b[0] * c.rate[1], c.rate[1] * b[1])
        return c.rate

    def _follow_program(self) -> None:
        """The oracle follows the rate in force from the command (the executor's steps start
        simhw.stepper.START_LATENCY_US later, under a step's interval at these rates, and a
        bolus ends at a service step run exactly at its end)."""
        r = self._rate_in_force()
        if r != self._in_force:
            self._oracle_rate(self.clock.elapsed_us, r)
            self._in_force = r
        self._track_alarms()

    def _run_program(self, t_us: int) -> None:
        """Run to t_us with a service step at least every minute (the runner's clock) and
        exactly when a bolus ends."""
        while self.clock.elapsed_us < t_us:
            nxt = min(t_us, self.clock.elapsed_us + 60_000_000)
            due = self.runner.bolus_due_in_us()
            if due >= 0:
                nxt = min(nxt, self.clock.elapsed_us + max(due, 1))
            self.run_until(nxt)
            self._service()

    def _send(self, line: str) -> dict[str, object]:
        if "$TOKEN" in line:
            line = line.replace("$TOKEN", str(self._token))
        resp = json.loads(self.proto.handle_line(line.encode()))
        self.responses.append((self.clock.elapsed_us / 1e6, line, resp))
        result = resp.get("result")
        if resp["ok"] and isinstance(result, dict) and "token" in result:
            self._token = result["token"]
        self._follow_program()
        return resp

    def _run_script(self, progress: Callable[[int], None] | None) -> None:
        self._token = ""
        sc = self.sc
        if sc.rate is not None:  # a [program] beside [[press]] keys: set as run() sets it
            if sc.dose:
                self.pump.dose(*sc.dose)
            else:
                self.pump.set_rate_nl_h(*sc.rate)
            self.pump.start()
            self._follow_program()
        # Commands and key presses in time order (a command first at the same time).
        script: list[tuple[int, int, Command | Press]] = [(c.at_us, 0, c) for c in sc.commands]
        script += [(p.at_us, 1, p) for p in sc.presses]
        for at_us, _, item in sorted(script, key=lambda x: (x[0], x[1])):
            self._run_program(at_us)
            if isinstance(item, Press):
                assert self.bedside is not None
                self.bedside.press(item)
            else:
                resp = self._send(item.line)
                self.answered.append((item, self.responses[-1][1], resp))
            if progress is not None:
                progress(self.clock.elapsed_us)
        self._run_program(sc.duration_us)
        if self.bedside is not None:
            self.bedside.finish()
        self.not_applied = []

    def _outcomes(self) -> list[tuple[Command, dict[str, object]]]:
        out = []
        for c, line, resp in self.answered:
            try:
                req = json.loads(line)
            except ValueError:
                req = None
            err = resp.get("error") if not resp.get("ok") else None
            code = err.get("code") if isinstance(err, dict) else None
            reason = err.get("message") if isinstance(err, dict) else "accepted"
            out.append((c, {
                "command": c.key,
                "at_h": c.at_us / 3.6e9,
                "id": resp.get("id"),
                "cmd": req.get("cmd") if isinstance(req, dict) else None,
                "code": code,
                "reason": reason,
            }))  # fmt: skip
        return out

    def commands_refused(self) -> list[dict[str, object]]:
        """Every [[command]] the pump refused (command, at_h, id, cmd, code, reason), and
        expected: whether its table's expect named that code."""
        return [d | {"expected": c.expect == d["code"]} for c, d in self._outcomes() if d["code"]]

    def commands_unexpected(self) -> list[dict[str, object]]:
        """Every [[command]] whose answer is not the one its table expects (accepted, unless
        it says expect = CODE): as commands_refused, with expect, and code None if accepted."""
        return [d | {"expect": c.expect} for c, d in self._outcomes() if d["code"] != c.expect]

    def run(self, progress: Callable[[int], None] | None = None) -> Result:
        sc, pump = self.sc, self.pump
        if self.scripted:
            self._run_script(progress)
            return self._result()
        if sc.dose:  # as a clinician programs it: the log records the dose
            pump.dose(*sc.dose)
        else:
            pump.set_rate_nl_h(*sc.rate)
        pump.start()
        self._oracle_rate(0, sc.rate)
        # Events not applied, with why: the summary shows them (never skipped silently).
        self.not_applied: list[tuple[Event, str]] = []
        # Progress marks are only reporting points: they never interrupt the plan.
        step_us = max(sc.duration_us // 200, 1)
        for ev in sc.events:  # all before the end: the scenario refuses any later
            self._run_reporting(ev.at_us, step_us, progress)
            try:
                why = self._apply(ev)
            except (ctl.TransitionError, core_rate.RateError) as e:
                raise ctl.TransitionError(f"{ev.name}: {e}") from None
            if why is not None:
                self.not_applied.append((ev, why))
        self._run_reporting(sc.duration_us, step_us, progress)
        if self.bedside is not None:
            self.bedside.finish()
        return self._result()

    def _result(self) -> Result:
        sc, pump = self.sc, self.pump
        self._oracle_to(sc.duration_us)
        vol = Fraction(*self.vol)
        delivered = self.stepper.position * vol
        status = pump.status()
        self._track_alarms()
        alarms = [
            {
                "kind": a.kind,
                "priority": al.PRIORITY_NAMES[a.priority],
                "raised_s": self._alarm_times[id(a)][0],
                "cleared_s": self._alarm_times[id(a)][1],
            }
            for a in pump.alarm_history()
        ]
        return Result(
            scenario=sc.name,
            duration_s=sc.duration_us / 1e6,
            programmed_nl=self._programmed,
            delivered_nl=delivered,
            steps=self.stepper.position,
            state=status["state"],
            alarms=alarms,
            log_records=status["log_records"],
            nl_per_step=vol,
            remaining_nl=Fraction(sc.fill_nl) - delivered,
            plunger_mm=self.stepper.plunger_um() / 1000,
            released_bolus_ul=self._released,
            backoff_ul=pump.backed_nl / 1000 if pump.backed_nl else None,
            signal=[(t / 1e6, s, lt) for t, s, lt in self.signal.timeline],
        )

    def _run_reporting(
        self, t_us: int, step_us: int, progress: Callable[[int], None] | None
    ) -> None:
        if progress is None:
            self.run_until(t_us)
            return
        while self.clock.elapsed_us < t_us:
            self.run_until(min(t_us, self.clock.elapsed_us + step_us))
            progress(self.clock.elapsed_us)
