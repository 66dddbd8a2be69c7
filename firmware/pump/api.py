# The pump's command API, used from the REPL (`mpremote exec "pump.start()"`) and, later, by
# the serial protocol. Pure logic: it is handed a stepper (PIO on the Pico, a simulated one
# in tests) and a clock, and never touches hardware itself.

from pump import controller as ctl
from pump import mechanics
from pump import rate as rates
from pump.planner import StepPlanner

ALARM_UNDERRUN = "step_underrun"


def _ul_str(nl_num, nl_den):
    ul1000 = nl_num // nl_den  # whole nL
    return "%d.%03d" % (ul1000 // 1000, ul1000 % 1000)


class Pump:
    def __init__(self, mech, stepper, clock, syringe="bd-plastipak-10ml", fill_ml="10"):
        self._drive = mechanics.Drive(
            mech["lead_um"], mech["full_steps_per_rev"], mech["microsteps"]
        )
        self._stepper = stepper
        self._clock = clock
        self.load(syringe, fill_ml)

    # --- commands ---

    def load(self, syringe_id, fill_ml):
        """A new syringe: allowed before the first start or after stop/complete."""
        if hasattr(self, "_ctl") and self._ctl.state in (ctl.RUNNING, ctl.PAUSED):
            raise ctl.TransitionError("cannot load a syringe while %s" % self._ctl.state)
        syr = mechanics.Syringe(syringe_id)
        num, den = rates.parse_decimal(fill_ml)
        fill_nl = num * 1000000 // den
        if not 0 < fill_nl <= syr.usable_ul * 1000:
            raise ValueError("fill must be above 0 and at most %d uL" % syr.usable_ul)
        vol = mechanics.nl_per_step(syr, self._drive)
        self._ctl = ctl.Controller(vol, mechanics.steps_for_nl(fill_nl, vol))
        self.syringe = syr
        self.fill_nl = fill_nl
        self._reported = self._stepper.steps_done  # the driver's count runs on across loads

    def rate(self, ml_per_h):
        """Set the rate in mL/h, given as a decimal string: pump.rate('0.136')."""
        self._set(rates.from_ml_per_h(*rates.parse_decimal(ml_per_h)))

    def dose(self, ug_per_24h, ug_per_ml):
        """Set a dose: pump.dose(1632, 500) is 1,632 ug/24 h at 500 ug/mL."""
        self._set(rates.from_dose(ug_per_24h, ug_per_ml))

    def _set(self, r):
        c = self._ctl
        if c.state != ctl.RUNNING:
            c.set_rate(r, self._clock())
            return
        StepPlanner(c.vol).start_segment(r[0], r[1])  # refuse before touching the motor
        now = self._halt(keep_enabled=True)
        c.set_rate(r, now)
        self._go(now)

    def start(self):
        c = self._ctl
        now = self._clock()
        c.start(now)
        self._go(now)

    def pause(self):
        self._ctl.pause(self._halt() if self._ctl.state == ctl.RUNNING else self._clock())

    def resume(self):
        now = self._clock()
        self._ctl.resume(now)
        self._go(now)

    def stop(self):
        self._ctl.stop(self._halt() if self._ctl.state == ctl.RUNNING else self._clock())

    def status(self):
        c = self._ctl
        self.service()
        nl = c.delivered_nl()
        return {
            "state": c.state,
            "rate_ml_h": rates.ml_per_h_str(*c.rate) if c.rate else None,
            "syringe": self.syringe.id,
            "steps": c.delivered,
            "delivered_ul": _ul_str(*nl),
            "remaining_ul": _ul_str(self.fill_nl * nl[1] - nl[0], nl[1]),
            "alarms": list(c.alarms),
            "log_records": c.log.count,
        }

    # --- the step pipeline ---

    def _go(self, now):
        self._fill()
        self._ctl.anchor(self._stepper.start())

    def _halt(self, keep_enabled=False):
        now = self._stepper.halt(keep_enabled)
        self._sync()
        return now

    def _sync(self):
        st = self._stepper
        while True:  # the IRQ may update the pair between the two reads
            n = st.steps_done
            t = st.last_tick
            if n == st.steps_done:
                break
        if n != self._reported:
            self._ctl.executed(n - self._reported, t)
            self._reported = n

    def _fill(self):
        c, st = self._ctl, self._stepper
        while st.room() >= 2:
            b = c.next_batch()
            if b is None:
                break
            st.queue(b[0], b[1])
        st.feed()

    def service(self):
        """Run often (a soft timer every 20 ms): report executed steps, keep the ring full."""
        c, st = self._ctl, self._stepper
        if not st.running:
            return
        self._sync()
        if c.state != ctl.RUNNING:
            st.halt()  # complete: the syringe is empty
            return
        if st.starved:
            # The PIO ran dry: later steps would come late. Safety first: stop and alarm.
            c.fault(self._halt(), ALARM_UNDERRUN)
            return
        self._fill()
