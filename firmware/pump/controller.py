# Infusion state machine. It owns the planner and the bookkeeping of what the executor has
# really done; the executor (PIO on the Pico, the emulator on the host) only runs batches and
# reports executed steps. Every command validates first and changes nothing if refused.
from micropython import const

from pump import alarms, events
from pump.planner import PlanError, StepPlanner
from pump.ticks import ticks_diff

IDLE = "idle"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
COMPLETE = "complete"

# Steps per batch: the Pico's step ring and the emulator take the same batches.
_BATCH_MAX = const(64)
ALARM_EMPTY = alarms.RESERVOIR_EMPTY
# The executor ran later than the plan. The PIO is cycle-exact unless its FIFO runs dry, so
# the tolerance is zero: any step the executor could not issue on time is late.
ALARM_LATE = alarms.STEP_LATE
# After every reset there is no syringe until someone loads one: nothing to deliver from.
NO_SYRINGE = "no syringe loaded (load one first)"


class TransitionError(ValueError):
    pass


class PumpFault(Exception):
    """A command found the executor outside the plan: the pump is now stopped and alarmed."""


class Controller:
    def __init__(self, vol, capacity_steps, log=None):
        # vol: nL per microstep (num, den); capacity_steps: steps until the syringe is empty.
        # vol None: no syringe loaded (every boot, until one is): the controller stays idle
        # and refuses a rate, a start and everything after (stop is never refused).
        self.loaded = vol is not None
        if not self.loaded:
            vol, capacity_steps = (0, 1), 0
        elif capacity_steps <= 0:
            raise ValueError("syringe holds no deliverable volume")
        self.vol = vol
        self.capacity = capacity_steps
        self.state = IDLE
        self.rate = None  # (nL/h num, den)
        self.delivered = 0  # executed microsteps, all segments
        self.alarms = []
        self.log = log if log is not None else events.EventLog()
        self._plan = StepPlanner(vol)
        self._seg_done = 0
        self._last_tick = 0
        self._batch = [0, 0]
        # Program bounds (pump.program): a boosted segment (a bolus on top of the rate) plans
        # at most _limit steps, those due within _span us of its start (zero: the tick it
        # started at); a VTBI ends the program at `target` delivered steps. -1: no bound.
        self._limit = -1
        self._span = 0
        self.zero = 0
        self.target = -1
        # The program rate a boost ends into, if it changed during the boost (a titration
        # step or profile segment that came due): None, self.rate. See boost_then.
        self._then = None

    def _refuse(self, action, allowed):
        if not self.loaded:
            raise TransitionError("cannot %s: %s" % (action, NO_SYRINGE))
        if self.state not in allowed:
            raise TransitionError("cannot %s while %s" % (action, self.state))

    def _tau(self, now):
        tau = ticks_diff(now, self._last_tick)
        if tau < 0:
            raise TransitionError("time went backwards")
        return tau

    def _segment(self, now, rate):
        # Validate in the planner first; it raises before changing anything.
        num, den = rate if rate else (0, 1)
        tau = self._tau(now) if self.state == RUNNING else 0
        self._plan.start_segment(num, den, self._seg_done, tau)
        self._seg_done = 0
        self._last_tick = now
        self._limit = -1

    def check_rate(self, rate):
        """Refuse what set_rate would refuse (the state, a bad rate); changes nothing."""
        self._refuse("change the rate", (IDLE, RUNNING, PAUSED))
        StepPlanner(self.vol).start_segment(rate[0], rate[1])

    def set_rate(self, rate, now):
        self.check_rate(rate)  # refuse first
        if self.state == RUNNING:
            self._checked(now, rate)  # ends a boost: this rate, set now, is the program's
        self._then = None
        self.rate = rate
        self.log.add(now, events.RATE, rate[0], rate[1])

    def start(self, now):
        self._refuse("start", (IDLE,))
        if self.rate is None:
            raise TransitionError("cannot start without a rate")
        self._plan.start_segment(self.rate[0], self.rate[1])
        self._seg_done = 0
        self._last_tick = now
        self.state = RUNNING
        self.log.add(now, events.START)

    def pause(self, now):
        self._refuse("pause", (RUNNING,))
        cut = self._limit >= 0  # a boost (a bolus) ends here, short of its end
        self._checked(now, None)
        self.state = PAUSED
        self.log.add(now, events.PAUSE, self.delivered)  # exact: the motor is halted
        if cut:
            # The log's last RATE was the boosted one: say what resume runs at, the
            # program's rate, a change that came due during the bolus included.
            if self._then is not None:
                self.rate, self._then = self._then, None
            self.log.add(now, events.RATE, self.rate[0], self.rate[1])

    def resume(self, now):
        self._refuse("resume", (PAUSED,))
        self._segment(now, self.rate)
        self.state = RUNNING
        self.log.add(now, events.RESUME)

    def stop(self, now):
        """Never refused. Stopping an idle, stopped or complete pump changes nothing."""
        if self.state not in (RUNNING, PAUSED):
            return
        late = False
        if self.state == RUNNING:
            tau = ticks_diff(now, self._last_tick)
            try:
                self._plan.progress(self._seg_done, tau if tau > 0 else 0)
            except PlanError:
                late = True  # the executor fell behind: say so, but stop all the same
        self._plan.reset()
        self._seg_done = 0
        self._last_tick = now
        self.state = STOPPED
        if late:
            self._alarm(now, ALARM_LATE)
        self.log.add(now, events.STOP, self.delivered)

    def _alarm(self, now, alarm):
        # The alarm manager (pump.alarms) records and sounds it; this list is what stopped
        # this program.
        if alarm not in self.alarms:
            self.alarms.append(alarm)

    def _checked(self, now, rate):
        """A segment change while running; an executor outside the plan faults the pump."""
        try:
            self._segment(now, rate)
        except PlanError:
            self.fault(now, ALARM_LATE)
            msg = "steps ran later than planned: pump stopped, alarm %s" % ALARM_LATE
            raise PumpFault(msg) from None

    def anchor(self, tick):
        """The executor started the segment at `tick`, after the command: the plan's time
        zero moves there (nothing ran in between, so nothing is lost)."""
        if self._seg_done or ticks_diff(tick, self._last_tick) < 0:
            raise TransitionError("anchor after steps or before the command")
        self._last_tick = tick
        self.zero = tick

    def fault(self, now, alarm):
        """Stop at once for a fault, whatever the plan says: no progress is carried, so it
        cannot be refused, and it never raises."""
        self._plan.reset()
        self._seg_done = 0
        self._last_tick = now
        self.state = STOPPED
        self._alarm(now, alarm)
        self.log.add(now, events.STOP, self.delivered)

    def next_batch(self, max_count=_BATCH_MAX):
        """Next (count, interval µs) list for the executor, or None when nothing to run.
        The returned list is reused: copy it before the next call."""
        if self.state != RUNNING:
            return None
        room = self.capacity - self.delivered - self._plan.planned + self._seg_done
        if self.target >= 0:
            t = self.target - self.delivered - self._plan.planned + self._seg_done
            if t < room:
                room = t
        if self._limit >= 0 and self._limit - self._plan.planned < room:
            room = self._limit - self._plan.planned
        if self._plan.next_batch(self._batch, min(max_count, room)) == 0:
            return None
        return self._batch

    # --- program bounds: a bolus for an exact time, a VTBI to an exact step ---

    def boost(self, rate, now, span_us):
        """While running: from `now`, run at `rate` (the program rate plus a bolus rate) for
        exactly span_us, then hold until unboost(). The program rate stays self.rate (a pause
        ends the boost, logs RATE self.rate, and resume goes on at it; boost_then changes
        it meanwhile). A stop, a fault or an empty syringe end it with nothing to go on."""
        self._refuse("give a bolus", (RUNNING,))
        if span_us <= 0:
            raise ValueError("a bolus must last at least 1 us")
        StepPlanner(self.vol).start_segment(rate[0], rate[1])  # refuse a bad rate first
        self._checked(now, rate)
        self._limit = self._plan.due(span_us)
        self._span = span_us
        self.zero = now
        self._then = None
        self.log.add(now, events.RATE, rate[0], rate[1])

    def boost_then(self, rate):
        """While a boost runs: the program's rate changes to `rate` (a titration step or a
        profile segment came due), in force once the boost ends, however it ends: at its
        end (unboost with no rate) or cut short by a pause (resume runs at it). The boost
        runs on unchanged and nothing is logged here (unboost and pause log the RATE)."""
        if not self.boosting():
            raise TransitionError("no bolus is running")
        self.check_rate(rate)
        self._then = rate

    def boosting(self):
        return self._limit >= 0 and self.state == RUNNING

    @property
    def plan(self):
        """The step planner of the segment under way (pump.planner.StepPlanner), to read:
        time_of(k), due(tau). Replays that run the plan without a motor use it."""
        return self._plan

    def rate_after_boost(self):
        """The program's rate once a boost ends (boost_then's, else the rate in force);
        without a boost, the rate in force."""
        return self.rate if self._then is None else self._then

    def held(self):
        """The plan has nothing more to issue until the program acts: every step of a
        boost is out, or the VTBI is reached."""
        if self.state != RUNNING:
            return False
        if self._limit >= 0 and self._seg_done >= self._limit:
            return True
        return self.target >= 0 and self.delivered >= self.target

    def unboost(self, rate, now):
        """End the boost at its end (zero + span, at or before `now`; the motor is halted)
        with the exact progress there, and continue at `rate` from `now` (None: the
        program's rate, boost_then's if it gave one)."""
        self._refuse("end a bolus", (RUNNING,))
        if self._limit < 0:
            raise TransitionError("no bolus is running")
        if ticks_diff(now, self.zero) < self._span:
            raise TransitionError("the bolus has not ended yet")
        if self._seg_done != self._limit:
            self.fault(now, ALARM_LATE)  # the executor fell behind the bolus
            raise PumpFault("bolus steps ran late: pump stopped, alarm %s" % ALARM_LATE)
        if rate is None:
            rate = self.rate if self._then is None else self._then
        done = self._seg_done
        tau = self._span - (self._plan.time_of(done) if done else 0)
        StepPlanner(self.vol).start_segment(rate[0], rate[1])
        self._plan.start_segment(rate[0], rate[1], done, tau)
        self._seg_done = 0
        self._last_tick = now
        self._limit = -1
        self._then = None
        self.rate = rate
        self.log.add(now, events.RATE, rate[0], rate[1])

    def finish(self, now, rate=None):
        """The VTBI was delivered (held at `target`): continue at `rate` (KVO) from a fresh
        plan, or stop (rate None). No alarm: the program ended as set."""
        self._refuse("end the infusion", (RUNNING,))
        self._plan.reset()
        self._seg_done = 0
        self._last_tick = now
        self._limit = -1
        self._then = None  # the program has ended: a change due during a bolus with it
        self.target = -1
        if rate is None:
            self.state = STOPPED
            self.log.add(now, events.STOP, self.delivered)
            return
        self._plan.start_segment(rate[0], rate[1])
        self.rate = rate
        self.log.add(now, events.RATE, rate[0], rate[1])

    def executed(self, count, last_step_tick):
        """The executor ran `count` more steps; the last one at `last_step_tick`."""
        if count <= 0:
            return
        self._seg_done += count
        self.delivered += count
        self._last_tick = last_step_tick
        if self.delivered >= self.capacity:
            self._plan.reset()
            self._seg_done = 0
            self.state = COMPLETE
            self.alarms.append(ALARM_EMPTY)
            self.log.add(last_step_tick, events.COMPLETE, self.delivered)

    def backed(self, count):
        """The plunger drew `count` steps back (the back-off after an occlusion, motor
        stopped): what it had pushed into the blocked line went back into the syringe."""
        if count <= 0:
            return
        if self.state == RUNNING:
            raise TransitionError("the plunger moves back only while the program is halted")
        self.delivered = self.delivered - count if count < self.delivered else 0

    def delivered_nl(self):
        """Delivered volume as an exact fraction (num, den) of nL."""
        return self.delivered * self.vol[0], self.vol[1]
