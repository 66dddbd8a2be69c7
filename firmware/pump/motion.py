# The motor side of the pump: the only part that touches the stepper. It keeps the infusion
# controller (pump.controller) of the loaded syringe in step with what the executor really
# did, and keeps the stop invariant: anything that goes wrong after the motor was touched
# ends with the motor halted, EN off and the controller stopped with an alarm.
from pump import controller as ctl
from pump import events
from pump.supervision import executor

# After an occlusion alarm the plunger draws back the volume the detector says is trapped, so
# the line holds no pressure when it opens (the T34's back-off): at 1,000 steps/s, capped.
_BACKOFF_US = 1000
_BACKOFF_MAX_NL = 50000


class Motion:
    """The stepper and the controller of the loaded syringe. The pump (pump.api.Pump) reads
    `ctl` (replaced by load()) and `backed_nl`, and moves the motor only through these
    methods. saved() runs after every change of the motor's or the controller's state (the
    pump latches the controller's alarms and writes the retained state there)."""

    def __init__(self, stepper, clock, log, saved):
        self._st = stepper
        self._clock = clock
        self._log = log
        self._saved = saved
        self._in_flight = getattr(stepper, "in_flight", None)  # steps out, not yet counted
        self._backing = False  # the motor is drawing the plunger back (see back_off)
        self._back_left = 0  # steps of the back-off not yet counted
        self._back_steps = 0  # steps of the back-off counted so far
        self.backed_nl = 0  # drawn back from this syringe after occlusions
        self.ctl = None
        self._reported = 0
        stepper.enable(False)  # whatever a reset left on the pins: no holding torque, no steps

    def load(self, vol, cap):
        """A fresh controller: `cap` steps of `vol` nL (vol None: no syringe)."""
        self.ctl = ctl.Controller(vol, cap, self._log)
        self.backed_nl = 0
        self._reported = self._st.steps_done  # the driver's count runs on across loads

    def delivering(self):
        """The program runs and so does the motor."""
        return self.ctl.state == ctl.RUNNING and self._st.running

    def issued(self):
        """Steps delivered from this syringe, to the step: the controller's count (the
        executor counts whole entries or batches: 64 steps, over a minute at CSCI rates)
        plus the steps of the one under way. Never allocates."""
        c, st = self.ctl, self._st
        if self._in_flight is None or self._backing or not st.running or c.state != ctl.RUNNING:
            return c.delivered
        now = self._clock()
        while True:  # the IRQ may count an entry between the reads: then read again
            n = st.steps_done
            k = self._in_flight(now)
            if n == st.steps_done:
                return c.delivered + n - self._reported + k

    # --- the step pipeline ---

    def prime(self):
        """Before a (re)start: a back-off under way is cut short (counted), the ring filled."""
        if self._backing:
            self.halt()
        self.fill()

    def run(self):
        """Start the motor; the plan's time zero moves to the executor's start."""
        self.ctl.anchor(self._st.start())

    def halt(self, keep_enabled=False):
        """Stop the motor, count what it did; returns the tick it stopped at."""
        now = self._st.halt(keep_enabled)
        self.sync()
        if self._backing:
            self._backed_off(now)
        return now

    def sync(self):
        """Report the executor's new steps to the controller."""
        st = self._st
        while True:  # the IRQ may update the pair between the two reads
            n = st.steps_done
            t = st.last_tick
            if n == st.steps_done:
                break
        if n != self._reported:
            if self._backing:  # steps back: the plunger's position goes down, not up
                self.ctl.backed(n - self._reported)
                self._back_left -= n - self._reported
                self._back_steps += n - self._reported
            else:
                self.ctl.executed(n - self._reported, t)
            self._reported = n

    def fill(self):
        """Keep the step ring full from the plan."""
        c, st = self.ctl, self._st
        while st.room() >= 2:
            b = c.next_batch()
            if b is None:
                break
            st.queue(b[0], b[1])
        st.feed()

    def service(self):
        """The motor's share of the service step: count the executor's steps, end a back-off
        that is out, stop a motor whose program ended, hold at a program bound, and stop
        with an alarm if the executor left the plan (pump.supervision.executor). True if
        the pump runs to plan: then supervise, fill() and save."""
        st = self._st
        if not st.running:
            return False
        c = self.ctl
        self.sync()
        if self._backing:
            if self._back_left <= 0 or st.starved:
                self.halt()
                self._saved()
            return False
        if c.state != ctl.RUNNING:
            st.halt()  # complete: the syringe is empty
            st.enable(False)
            self._saved()
            return False
        if c.held():
            self.halt(keep_enabled=True)  # a bolus or the VTBI is out: pump.program acts
            return False
        alarm = executor(st, self._clock)
        if alarm is not None:
            self.fail(alarm)
            return False
        return True

    # --- the stop invariant ---

    def settle(self):
        """After a command that touched the motor: if it did not leave the pump running
        (a fault, an exception), the motor is halted and EN is off. False if the pump is
        running on paper but not on the motor (the caller raises software_fault)."""
        c, st = self.ctl, self._st
        if c.state == ctl.RUNNING and st.running:
            self._saved()
            return True
        if c.state == ctl.RUNNING:
            return False
        if not self._backing:  # a back-off goes on: the service step ends it
            if st.running:
                st.halt()
            st.enable(False)
        self._saved()
        return True

    def fail(self, alarm):
        """Motor off and EN off first, then the controller stopped with `alarm`."""
        self.off_then(self.ctl.fault, alarm)

    def off_then(self, action, *args):
        """Halt the motor and turn EN off, then `action(now, *args)` on the controller: even
        if the driver raised, the controller ends stopped."""
        now = self._clock()
        try:
            if self._st.running:
                now = self.halt()
        finally:
            self._st.enable(False)
            action(now, *args)
            self._saved()

    # --- the back-off after an occlusion ---

    def back_off(self, nl):
        """Draw the plunger back by `nl` (rounded down to steps, capped) on the halted
        motor: the service step ends it when its steps are out; any command that moves or
        stops the motor ends it early. Counted and logged either way (_backed_off)."""
        c = self.ctl
        vn, vd = c.vol
        if nl > _BACKOFF_MAX_NL:
            nl = _BACKOFF_MAX_NL
        n = nl * vd // vn
        if n <= 0 or c.delivered <= 0:
            return
        if n > c.delivered:
            n = c.delivered
        st = self._st
        st.queue(n, _BACKOFF_US)
        self._back_left, self._back_steps = n, 0
        self._backing = True
        st.start(reverse=True)

    def _backed_off(self, now):
        self._backing = False
        self._st.enable(False)
        c = self.ctl
        nl = self._back_steps * c.vol[0] // c.vol[1]
        self.backed_nl += nl
        self._log.add(now, events.BACKOFF, nl, c.delivered)
