# The bedside user interface (issue 20): screens on the 128x64 panel and the six keys, as pure
# logic over the same commands as the pump protocol. Every change a key makes goes through
# Protocol.call (pump/protocol.py): the same checks, the same clinician PIN and lockout, the
# same refusals, word for word, so a key can never do what the protocol would refuse.
#
# Keys (pump/keys.py): OK = Start/OK, STOP = Stop/No, UP, DOWN, INFO, BOLUS = bolus/back.
# - Nothing changes without a confirmation: a change is edited, then checked on a screen
#   that shows old and new values (step 1, OK), then confirmed (step 2, OK); Stop/No or
#   Back at any step leaves everything as it was. Load, program and titrate need the
#   clinician PIN first (the protocol's PIN commands); a wrong one counts as it does there.
# - Stop held 1 s while running pauses at once: stop is never refused, and the hold is its
#   confirmation (a second screen must never stand between a nurse and stopping a pump).
# - Stop held 3 s while not running: power off (asked first). Info held 3 s: keypad lock on
#   or off. While locked only these act: Stop held (pause), Stop/No and OK on the alarm
#   screen (acknowledge, silence: an alarm must always be quietable), Info (the info screen,
#   and its hold to unlock). The lock keeps hands and pockets from changing anything; it is
#   not a security barrier (the PIN is), so unlocking needs no PIN.
# - An alarm takes the screen as soon as it is raised: what (the kind and its text),
#   priority, and what must happen before delivery can restart, in the words of
#   pump.alarms(). Stop/No acknowledges, OK silences for 2 min, Up/Down scroll, Info shows
#   the next alarm, Back goes home (the alarm stays on the home screen).
# - A display that stops answering raises the display_fault alarm (medium priority): the
#   buzzer and LED still work, and delivery goes on. Why on: the display does not take part
#   in delivery or in its safety checks (occlusion, empty, the step checks all run without
#   it), and the pump's patients (CSCI: octreotide, palliative drugs) come to more harm
#   from a stopped infusion than from a pump that cannot show its state; the alarm makes
#   someone come and swap the pump at the next chance. Stop still works blind.
from micropython import const

from pump import keys as K
from pump import uiform, uiview
from pump.alarms import DISPLAY_FAULT
from pump.ticks import ticks_add, ticks_diff
from pump.uiview import (
    ALARM,
    ASK,
    BOLUS,
    CONFIRM,
    EDIT,
    HOME,
    INFO,
    MENU,
    MSG,
    OFF,
    PIN,
    REVIEW,
    SOFT,
)

MSG_MS = const(3000)  # a message stays this long (or until a key)
IDLE_MS = const(60000)  # an unfinished screen goes home after this without a key
REDRAW_MS = const(1000)  # the screen's text is made again this often (drawn if it changed)
PROBE_MS = const(2000)  # a panel whose picture did not change is asked this often
DISPLAY_TRIES = const(3)  # failed writes in a row before the display_fault alarm
DISPLAY_RETRY_MS = const(1000)
_NEEDS_PIN = ("load", "program", "titrate")


class UI:
    """The bedside interface. pump: pump.api.Pump; proto: its pump.protocol.Protocol (the
    commands go through it); canvas: a pump.canvas.Canvas (None: the text model only);
    display: a driver with show(buf) (None: no panel); now: ticks_ms; image_id: the image's
    digest (info screen); reader: the key reader, read() -> the mask of keys pressed (bit k:
    pump.keys' key k), polled by poll(); keys: the pump.keys.Keys it feeds (made if not
    given)."""

    def __init__(
        self, pump, proto, canvas=None, display=None, now=0, image_id="", reader=None, keys=None
    ):
        self.pump = pump
        self.proto = proto
        self.runner = proto.runner
        self.canvas = canvas
        self.display = display
        self.image_id = image_id
        self.reader = reader
        self.keys = keys if keys is not None else K.Keys(now)
        self.now = now
        self.screen = HOME
        self.locked = False
        # The screen as text (pump/uiview.py): what draw() puts on the panel, what tests read.
        self.title = ""
        self.lines = []
        self.sel = -1
        # What the screens show and edit (read by pump/uiview.py).
        self.menu_items = []
        self.mi = 0
        self.act = ""  # the change under way: load, program, titrate, pin, start, ...
        self.form = None  # its pump.uiform.Form
        self.fi = 0  # the field being edited
        self.pin_purpose = ""  # "check", "new", "again"
        self.digits = ""
        self.digit = 0
        self.msg = ""
        self.soft = []  # the drug library's soft limits to accept
        self.scroll = 0
        self.ai = 0  # the alarm shown (index into the active ones)
        self.refused = ""  # the last refusal, in the protocol's words
        self.display_fails = 0  # failed display writes in a row
        self.drawn = 0  # screens drawn
        self.polls = 0  # poll() calls (the board steps the UI every few)
        self.faults = 0  # exceptions a target's timer caught from the UI (printed there)
        self._dirty = True
        self._drawn_at = now
        self._last_key = now
        self._msg_until = now
        self._after_msg = HOME
        self._pin = None  # the clinician PIN checked for the change under way
        self._new_pin = ""
        self._reps = 0
        self._seen = []  # the active alarms already shown
        self._stop_from = ""  # the pump's state when Stop went down
        self._display_retry = now
        self._fresh = True  # the first step() sets the times from its now
        self._due = False  # rendered, not drawn yet
        self._shown = None  # what the panel shows: (screen, title, sel, lines)
        self._probed = now
        self._fault_why = ""  # the display failed: the alarm is raised by the next step()

    # --- time and keys ---

    def sample(self, mask, now):
        """A key reader's sample: bit k set = key k pressed (pump.keys)."""
        self.keys.sample(mask, now)

    def poll(self, now):
        """Samples the key reader (every 5-10 ms: a timer on the board)."""
        self.polls += 1
        if self.reader is not None:
            self.keys.sample(self.reader.read(), now)

    def step(self, now, show=True):
        """Handles the keys' events, follows the alarms, times screens out, and renders the
        screen when something changed (at least every REDRAW_MS); then, if show, draws it
        (flush). Call every 20-100 ms. The board runs step(now, False) with interrupts off
        (its commands must not be cut by a Ctrl-C, as the protocol's are not) and flush()
        with them on (the canvas and the I2C write take tens of ms)."""
        self.now = now
        if self._fresh:
            self._fresh = False
            self._drawn_at = self._last_key = self._msg_until = self._display_retry = now
        while True:
            e = self.keys.get()
            if e < 0:
                break
            self._last_key = now
            self.event(e >> 3, e & 7)
        if self._fault_why:
            self.raise_display_fault(self._fault_why)
            self._fault_why = ""
        self._follow_alarms()
        if self.screen == MSG and ticks_diff(now, self._msg_until) >= 0:
            self._go(self._after_msg)
        elif self.screen not in (HOME, ALARM, OFF) and ticks_diff(now, self._last_key) >= IDLE_MS:
            self._go(HOME)
        if self._dirty or ticks_diff(now, self._drawn_at) >= REDRAW_MS:
            self.render()
            self._drawn_at = now
            shown = (self.screen, self.title, self.sel, self.lines)
            if shown != self._shown or self.display_fails:
                self._shown = shown
                self._due = True
        if show:
            self.flush()

    def event(self, kind, k):
        """One key event (pump.keys' kinds and keys)."""
        self._dirty = True
        if self.screen == OFF:
            if kind == K.HOLD and k == K.STOP:
                self._go(HOME)
            return
        if k == K.STOP and kind == K.PRESS:
            self._stop_from = self.pump.state
        if k == K.STOP and kind == K.LONG and self._stop_from == "running":
            self._do("pause", {}, HOME)  # at once: the hold is the confirmation
            return
        if k == K.INFO and kind == K.HOLD:
            self.locked = not self.locked
            self._message("Keypad locked" if self.locked else "Keypad unlocked", HOME)
            return
        if k == K.STOP and kind == K.HOLD and self._stop_from not in ("running", "paused"):
            if not self.locked and self.screen != ALARM:
                self._ask("power", "Power off? The pump stops and the screen goes dark.")
            return
        if kind == K.LONG and k == K.OK and self.screen == PIN:
            self._pin_done()  # OK held enters the PIN
            return
        if kind == K.PRESS or kind == K.REPEAT:
            if k == K.UP or k == K.DOWN:
                if self.locked and self.screen not in (ALARM, INFO):
                    self._locked_note()
                    return
                self._updown(1 if k == K.UP else -1, kind == K.REPEAT)
            return
        if kind != K.CLICK or k == K.UP or k == K.DOWN:
            return  # (up and down act when pressed)
        if self.locked and not self._allowed_locked(k):
            self._locked_note()
            return
        self._KEYS[self.screen](self, k)

    def _allowed_locked(self, k):
        if self.screen == ALARM:
            return k in (K.STOP, K.OK, K.INFO)
        if k == K.INFO:
            return True
        return self.screen in (INFO, MSG) and k in (K.STOP, K.BOLUS)

    def _locked_note(self):
        self._message("Keypad locked: hold INFO 3 s to unlock", self.screen)

    # --- what each key does, per screen ---

    def _k_home(self, k):
        if k == K.OK:
            self._open_menu()
        elif k == K.INFO:
            self._go(INFO)
        elif k == K.BOLUS:
            self._go(BOLUS)
        elif k == K.STOP and self.pump.state == "running":
            self._message("Hold STOP to pause", HOME)

    def _k_menu(self, k):
        if k == K.OK:
            self._choose(self.menu_items[self.mi][0])
        elif k == K.INFO:
            self._go(INFO)
        else:
            self._go(HOME)

    def _k_edit(self, k):
        fields = self.form.fields
        if k == K.OK:
            self.fi = self._next_field(self.fi + 1, 1)
            if self.fi >= len(fields):
                self._go(REVIEW)
        elif k == K.STOP:
            self._go(HOME)  # nothing changed
        elif k == K.BOLUS:
            i = self._next_field(self.fi - 1, -1)
            if i < 0:
                self._go(HOME)
            else:
                self.fi = i

    def _k_review(self, k):
        if k == K.OK:
            self._go(CONFIRM)
        elif k == K.BOLUS:
            self.fi = self._next_field(len(self.form.fields) - 1, -1)
            self._go(EDIT)
        elif k == K.STOP:
            self._go(HOME)

    def _k_confirm(self, k):
        if k == K.OK:
            self._commit(False)
        elif k == K.BOLUS and self.form is not None:
            self._go(REVIEW)
        else:
            self._go(HOME)

    def _k_soft(self, k):
        if k == K.OK:
            self._commit(True)  # the soft limits, seen and accepted: "confirm": true
        else:
            self._go(HOME)

    def _k_pin(self, k):
        if k == K.OK:
            if len(self.digits) < 7:
                self.digits += "%d" % self.digit
                self.digit = 0
            else:
                self._pin_done()
        elif k == K.BOLUS:
            if self.digits:
                self.digit = int(self.digits[-1])
                self.digits = self.digits[:-1]
            else:
                self._go(HOME)
        elif k == K.STOP:
            self._go(HOME)

    def _k_alarm(self, k):
        if k == K.STOP:
            self._do("alarm.ack", {}, ALARM)
        elif k == K.OK:
            self._do("alarm.silence", {}, ALARM)
        elif k == K.INFO:
            self.ai += 1
            self.scroll = 0
        elif k == K.BOLUS:
            self._go(HOME)

    def _k_info(self, k):
        if k == K.INFO:
            self.scroll += uiview.BODY
        else:
            self._go(HOME)

    def _k_bolus(self, k):
        if k == K.OK and self.runner.prog is not None:
            self._do("bolus", {}, HOME, done="Bolus started")
        else:
            self._go(HOME)

    def _k_msg(self, k):
        self._go(self._after_msg)

    def _k_ask(self, k):
        if k != K.OK:
            self._go(HOME)
        elif self.act == "power":
            self._do("stop", {}, OFF)
        else:
            self._do(self.act, {}, HOME)

    def _k_off(self, k):
        pass

    def _updown(self, sign, repeat):
        s = self.screen
        self._reps = self._reps + 1 if repeat else 0
        if s == MENU:
            if not repeat:
                self.mi = (self.mi - sign) % len(self.menu_items)
        elif s == EDIT:
            self.form.fields[self.fi].step(sign, self._reps)
            self.form.sync()
        elif s == PIN:
            self.digit = (self.digit + sign) % 10
        elif not repeat:  # the screens longer than the panel scroll
            self.scroll = self.scroll - sign if self.scroll - sign > 0 else 0

    def _next_field(self, i, d):
        f = self.form.fields
        while 0 <= i < len(f) and not self.form.editable(f[i]):
            i += d
        return i

    # --- navigation ---

    def _go(self, screen):
        self.screen = screen
        self._dirty = True
        self.scroll = 0
        if screen == HOME or screen == OFF:
            self._pin = None  # a change's PIN lasts until home
            self.act = ""
            self.form = None

    def _message(self, text, then):
        self.msg = text
        self._msg_until = ticks_add(self.now, MSG_MS)
        self._after_msg = then
        self._go(MSG)

    def _ask(self, act, question):
        self.act = act
        self.msg = question
        self._go(ASK)

    def _open_menu(self):
        st = self.pump.state
        loaded = self.pump.syringe is not None
        prog = self.runner.prog
        m = []
        if st in ("idle", "stopped", "complete"):
            m.append(("load", "Load syringe"))
        if loaded and st in ("idle", "paused"):
            m.append(("program", "Program dose/rate"))
        if prog is not None and prog.tmax is not None and st in ("idle", "running", "paused"):
            m.append(("titrate", "Titrate"))
        if loaded and st == "idle":
            m.append(("start", "Start"))
        if st == "paused":
            m.append(("resume", "Resume"))
        if st in ("running", "paused"):
            m.append(("stop", "End infusion"))
        m.append(("pin", "Change PIN" if self.proto.pin_set() else "Set clinician PIN"))
        m.append(("info", "Info"))
        self.menu_items = m
        self.mi = 0
        self._go(MENU)

    def _choose(self, what):
        if what == "info":
            self._go(INFO)
        elif what in ("start", "resume"):
            verb = "Start" if what == "start" else "Resume"
            self._ask(what, "%s at %s mL/h?" % (verb, self.status().get("rate_ml_h")))
        elif what == "stop":
            self._ask("stop", "End the infusion? To go on: load and program again.")
        elif what == "pin":
            self.act = "pin"
            self._ask_pin("check" if self.proto.pin_set() else "new")
        elif not self.proto.pin_set():
            self._message("No clinician PIN yet: set one first (menu)", HOME)
        else:
            self.act = what
            self._ask_pin("check")

    def _ask_pin(self, purpose):
        self.pin_purpose = purpose
        self.digits = ""
        self.digit = 0
        self._go(PIN)

    def _pin_done(self):
        pin = self.digits + "%d" % self.digit
        purpose = self.pin_purpose
        if purpose == "new":
            if len(pin) < 4:
                self._message("A PIN is 4 to 8 digits", PIN)
                self.digits = ""
                self.digit = 0
                return
            self._new_pin = pin
            self._ask_pin("again")
        elif purpose == "again":
            if pin != self._new_pin:
                self._message("The two PINs differ: nothing changed", HOME)
            else:
                self._go(CONFIRM)
        else:
            bad = self.proto.check_pin(pin)  # the protocol's check: a wrong one counts
            self.digits = ""
            self.digit = 0
            if bad is not None:
                self.refused = bad[1]
                self._message(bad[1], HOME if bad[0] == "pin_locked" else PIN)
            elif self.act == "pin":
                self._pin = pin
                self._ask_pin("new")
            else:
                self._pin = pin
                self.form = uiform.Form(self.act, self.pump, self.runner, self.proto.library)
                self.fi = self._next_field(0, 1)
                self._go(EDIT)

    def question(self):
        """The confirmation's question (step 2)."""
        if self.act == "pin":
            return "Set the new clinician PIN?"
        return self.form.question()

    # --- the commands, through the protocol ---

    def _commit(self, soft_ok):
        a = self.act
        pin = self._pin
        if a == "pin":
            self._do("pin.change", {"new": self._new_pin}, HOME, pin, "PIN set")
            return
        if a != "program":
            done = "Done: " + self.form.question()[:-1]
            self._do("load" if a == "load" else "titrate", self.form.args(), HOME, pin, done)
            return
        spec = self.form.args()
        if soft_ok:
            spec["confirm"] = True
        r = self.proto.call("program.validate", {"program": spec})
        if not r[0]:
            if r[1] == "soft_limit" and not soft_ok:
                self.soft = r[3]["limits"]
                self._go(SOFT)
            else:
                self._refused(r[2], HOME)
            return
        done = "Program set" + (": start it from the menu" if self.pump.state == "idle" else "")
        self._do("program.set", {"token": r[1]["token"]}, HOME, pin, done)

    def _do(self, cmd, args, then, pin=None, done=""):
        """One protocol command; a refusal is shown in the protocol's words. True if done."""
        r = self.proto.call(cmd, args, pin)
        if not r[0]:
            self._refused(r[2], HOME if then == OFF else then)
            return False
        if done:
            self._message(done, then)
            if then == HOME:
                self._pin = None
                self.act = ""
                self.form = None
        else:
            self._go(then)
        return True

    def _refused(self, text, then):
        self.refused = text
        self._message(text, then)

    def status(self):
        """What the protocol's status shows: the pump's (after a service step, run under the
        pump's own guard: a fault there is the software_fault alarm, as from the timer) and
        the program runner's, and the mode."""
        st = self.pump.status()
        st.update(self.runner.status())
        st["mode"] = self.proto.settings.get("mode", "engineering")
        return st

    # --- alarms ---

    def _follow_alarms(self):
        act = self.pump.active_alarms()
        new = -1
        for i in range(len(act)):
            if act[i] not in self._seen and not act[i].acknowledged:
                new = i  # the newest unacknowledged one
        self._seen = act  # (the cleared ones drop out)
        if new >= 0:
            self.ai = new
            self._go(ALARM)
            self.act = ""  # a change under way is dropped: nothing was committed
            self.form = None
            self._pin = None
        elif self.screen == ALARM and not act:
            self._go(HOME)

    def raise_display_fault(self, why):
        self.pump.raise_alarm(DISPLAY_FAULT, why)  # medium: sounds, the motor runs on

    # --- the panel ---

    def render(self):
        """The screen as text: title, lines, sel (pump/uiview.py)."""
        uiview.render(self)
        self._dirty = False

    def flush(self):
        """Draws the screen step() rendered if it changed; else, every PROBE_MS, asks the
        panel whether it is there (a 2-byte command: a dead panel on a screen that does not
        change is found too)."""
        if self._due:
            self._due = False
            self.draw()
            self._probed = self.now
        elif self.display is not None and ticks_diff(self.now, self._probed) >= PROBE_MS:
            self._probed = self.now
            level = getattr(self.display, "level", None)
            if level is not None:
                self._send(self.display.contrast, level)

    def draw(self):
        """The text onto the canvas, then to the display. A display that does not answer
        DISPLAY_TRIES times in a row raises the display_fault alarm at the next step()
        (delivery goes on); it is tried again every DISPLAY_RETRY_MS."""
        cv = self.canvas
        if cv is None:
            return
        uiview.draw(self, cv)
        self.drawn += 1
        if self.display is None:
            return
        if self.display_fails >= DISPLAY_TRIES and ticks_diff(self.now, self._display_retry) < 0:
            return
        self._send(self.display.show, cv.buf)

    def _send(self, fn, arg):
        try:
            fn(arg)
        except OSError as e:
            self.display_fails += 1
            self._display_retry = ticks_add(self.now, DISPLAY_RETRY_MS)
            if self.display_fails == DISPLAY_TRIES:
                self._fault_why = "the display does not answer (%s)" % (e,)
            return
        self.display_fails = 0

    # The key handlers per screen, in the order of the screen numbers (pump/uiview.py).
    _KEYS = (
        _k_home,
        _k_menu,
        _k_edit,
        _k_review,
        _k_confirm,
        _k_pin,
        _k_alarm,
        _k_info,
        _k_bolus,
        _k_msg,
        _k_ask,
        _k_off,
        _k_soft,
    )
