# Alarm manager, after IEC 60601-1-8: priorities, latching, acknowledge, silence for at most
# 2 minutes, and what must happen before delivery can restart. Pure logic: time is passed in
# (ticks in us), the event record is handed in, and the buzzer/LED pattern is asked for.
from micropython import const

from pump import events
from pump.ticks import ticks_diff

HIGH = const(3)
MEDIUM = const(2)
LOW = const(1)
PRIORITY_NAMES = {HIGH: "high", MEDIUM: "medium", LOW: "low"}

# b of the ALARM records written here (pump.events numbers them).
RAISED = events.ALARM_RAISED
ACKNOWLEDGED = events.ALARM_ACKNOWLEDGED
SILENCED = events.ALARM_SILENCED
CLEARED = events.ALARM_CLEARED

SILENCE_US = const(120000000)  # IEC 60601-2-24 and the GIP requirements: at most 2 min

# The alarm kinds: every other module names them from here.
RESERVOIR_EMPTY = "reservoir_empty"  # the plunger reached the loaded volume, or bottomed out
STEP_UNDERRUN = "step_underrun"  # the step ring ran dry: the service step fell behind
STEP_LATE = "step_late"  # the executor could not issue a step on time
STEP_EARLY = "step_early"  # the executor reported steps before their planned time
SOFTWARE_FAULT = "software_fault"  # an exception in a command or the service step
DELIVERY_INTERRUPTED = "delivery_interrupted"  # a reset cut a running or paused program
OCCLUSION = "occlusion"
SYRINGE_REMOVED = "syringe_removed"
SENSOR_FAULT = "sensor_fault"  # the load cell gives no data or saturates
NEAR_EMPTY = "near_empty"
DISPLAY_FAULT = "display_fault"  # the panel does not answer on I2C (pump/ui.py: delivery goes on)
BATTERY_LOW = "battery_low"  # pump/power.py: 48 min of battery left at the running drain
BATTERY_DEPLETED = "battery_depleted"  # pump/power.py: the motor stops while the supply holds

# kind: (code in the log's ALARM and FAULT records, priority, what must happen before
# delivery can restart). A code never changes once released.
KINDS = {
    RESERVOIR_EMPTY: (1, HIGH, "load a new syringe"),
    STEP_UNDERRUN: (2, HIGH, "check the pump, then load and program again"),
    STEP_LATE: (3, HIGH, "check the pump, then load and program again"),
    STEP_EARLY: (4, HIGH, "service the pump: its step clock runs fast"),
    SOFTWARE_FAULT: (5, HIGH, "service the pump, then load and program again"),
    DELIVERY_INTERRUPTED: (6, HIGH, "check what was delivered, then load and program again"),
    OCCLUSION: (7, HIGH, "clear the line, then resume"),
    SYRINGE_REMOVED: (8, HIGH, "seat the syringe, then load and program again"),
    SENSOR_FAULT: (9, HIGH, "service the force sensor"),
    NEAR_EMPTY: (10, MEDIUM, "prepare a new syringe"),
    DISPLAY_FAULT: (11, MEDIUM, "delivery goes on: replace the pump at the next syringe change"),
    BATTERY_LOW: (12, MEDIUM, "connect mains or change the battery"),
    BATTERY_DEPLETED: (13, HIGH, "change the battery, then load and program again"),
}

# The buzzer's bursts and the LED's flashing per priority, with the IEC 60601-1-8 table they
# keep to: pump/signals.py.


class AlarmError(ValueError):
    pass


class Alarm:
    def __init__(self, kind, now, text):
        self.kind = kind
        self.code, self.priority, self.restart = KINDS[kind]
        self.raised = now
        self.text = text
        self.acknowledged = False
        self.cleared = None  # tick when cleared, None while active

    def as_dict(self):
        return {
            "kind": self.kind,
            "priority": PRIORITY_NAMES[self.priority],
            "acknowledged": self.acknowledged,
            "active": self.cleared is None,
            "text": self.text,
            "to_restart": self.restart,
        }


class AlarmManager:
    def __init__(self, log, keep=16):
        self._log = log
        self._keep = keep
        self.history = []  # newest last, at most `keep` cleared ones
        self._silenced_at = None
        # changed(now) after a raise, acknowledge, silence or clear (pump.signals.Annunciator:
        # the buzzer and LED follow at once), or None
        self.changed = None

    def active(self):
        return [a for a in self.history if a.cleared is None]

    def raise_(self, now, kind, text=""):
        """Latch an alarm of `kind` (once: a second raise of an active one is the same alarm).
        Returns the alarm."""
        if kind not in KINDS:
            raise AlarmError("unknown alarm %r" % kind)
        for a in self.history:
            if a.kind == kind and a.cleared is None:
                if text:
                    a.text = text
                return a
        a = Alarm(kind, now, text)
        self.history.append(a)
        self._silenced_at = None  # a new alarm always sounds
        self._log.add(now, events.ALARM, a.code, RAISED)
        self._trim()
        self._changed(now)
        return a

    def acknowledge(self, now):
        """The user saw the alarms: they stay latched until cleared, but stop sounding."""
        n = 0
        for a in self.active():
            if not a.acknowledged:
                a.acknowledged = True
                self._log.add(now, events.ALARM, a.code, ACKNOWLEDGED)
                n += 1
        if not n:
            raise AlarmError("no alarm to acknowledge")
        self._changed(now)
        return n

    def silence(self, now):
        """Audio off for at most 2 minutes; then it sounds again while unacknowledged."""
        sounding = [a for a in self.active() if not a.acknowledged]
        if not sounding:
            raise AlarmError("no alarm is sounding")
        self._silenced_at = now
        for a in sounding:
            self._log.add(now, events.ALARM, a.code, SILENCED)
        self._changed(now)

    def clear(self, now, kind=None):
        """The condition is gone and the user restarted (or loaded) the pump: clear `kind`,
        or every active alarm."""
        for a in self.active():
            if kind is None or a.kind == kind:
                a.cleared = now
                self._log.add(now, events.ALARM, a.code, CLEARED)
        self._trim()
        self._changed(now)

    def _changed(self, now):
        hook = self.changed
        if hook is not None:
            hook(now)

    def stops_motor(self):
        for a in self.history:
            if a.cleared is None and a.priority == HIGH:
                return True
        return False

    def sounding(self, now):
        """Priority of the pattern the buzzer plays now (0: quiet)."""
        if self._silenced_at is not None:
            if ticks_diff(now, self._silenced_at) < SILENCE_US:
                return 0
            self._silenced_at = None
        top = 0
        for a in self.history:
            if a.cleared is None and not a.acknowledged and a.priority > top:
                top = a.priority
        return top

    def lit(self):
        """Priority the alarm light shows (0: dark): the highest active alarm, acknowledged
        or silenced too, until it is cleared."""
        top = 0
        for a in self.history:
            if a.cleared is None and a.priority > top:
                top = a.priority
        return top

    def _trim(self):
        while len(self.history) > self._keep:
            for i, a in enumerate(self.history):
                if a.cleared is not None:
                    del self.history[i]
                    break
            else:
                return
