# The bedside screens (pump/ui.py) as text, and the text on the 128x64 canvas: a title bar
# (dark on lit) and up to BODY lines of 21 characters, 8 px each (the font's cells). The
# text is the model tests read; the canvas is what the panel, the emulator's PNGs and the
# virtual Pico's panel show.
from micropython import const

from pump import uiform

# Screens
HOME = const(0)
MENU = const(1)
EDIT = const(2)
REVIEW = const(3)  # step 1: old and new values
CONFIRM = const(4)  # step 2
PIN = const(5)
ALARM = const(6)
INFO = const(7)
BOLUS = const(8)
MSG = const(9)
ASK = const(10)  # a one-step yes/no: start, resume, end, power off
OFF = const(11)
SOFT = const(12)  # the drug library's soft limits: accept or go back
NAMES = (
    "home",
    "menu",
    "edit",
    "review",
    "confirm",
    "pin",
    "alarm",
    "info",
    "bolus",
    "message",
    "ask",
    "off",
    "soft",
)

COLS = const(21)
BODY = const(7)  # lines under the title
_PIN_TITLES = {"check": "Clinician PIN", "new": "New PIN", "again": "New PIN again"}


def wrap(text, width=COLS):
    """text broken at spaces into lines of at most width characters."""
    out = []
    for para in text.split("\n"):
        line = ""
        for w in para.split(" "):
            while len(w) > width:
                if line:
                    out.append(line)
                    line = ""
                out.append(w[:width])
                w = w[width:]
            if not line:
                line = w
            elif len(line) + 1 + len(w) <= width:
                line += " " + w
            else:
                out.append(line)
                line = w
        out.append(line)
    return out


def render(ui):
    """Sets ui.title, ui.lines (the body) and ui.sel (the highlighted line, -1: none) from
    the UI's state."""
    s = ui.screen
    ui.sel = -1
    ui.title = ""
    b = []
    if s == HOME:
        _home(ui, b)
    elif s == MENU:
        ui.title = "Menu"
        for item in ui.menu_items:
            b.append(item[1])
        ui.sel = ui.mi
    elif s == EDIT:
        _edit(ui, b)
    elif s == REVIEW:
        ui.title = "Check 1/2: old -> new"
        for f in ui.form.fields:
            if ui.form.editable(f):
                change = "%s -> %s" % (f.show(f.old), f.shown())
                if len(f.label) + 1 + len(change) <= COLS:
                    b.append(f.label + " " + change)
                else:  # the label, then the change under it
                    b.append(f.label)
                    b.extend(wrap("  " + change))
        b.append("OK next  BACK edit")
    elif s == CONFIRM:
        ui.title = "Confirm 2/2"
        b.extend(wrap(ui.question()))
        b.append("OK = yes  STOP = no")
    elif s == PIN:
        ui.title = _PIN_TITLES[ui.pin_purpose]
        b.append("PIN " + "*" * len(ui.digits) + "%d" % ui.digit)
        b.append("")
        b.append("UP/DOWN the digit")
        b.append("OK next digit")
        b.append("OK held: enter")
        b.append("BACK delete STOP quit")
    elif s == ALARM:
        _alarm(ui, b)
    elif s == INFO:
        _info(ui, b)
    elif s == BOLUS:
        _bolus(ui, b)
    elif s == MSG:
        ui.title = "Refused" if ui.refused and ui.msg == ui.refused else ""
        b.extend(wrap(ui.msg))
    elif s == ASK:
        ui.title = "Confirm"
        b.extend(wrap(ui.msg))
        b.append("OK = yes  STOP = no")
    elif s == SOFT:
        ui.title = "Soft limit"
        for m in ui.soft:
            b.extend(wrap(m))
        b.append("OK accept  STOP no")
    if len(b) > BODY and s not in (HOME, INFO, ALARM):
        # Up/Down scroll the body; the last line (the keys' hint) stays.
        top = ui.scroll if ui.scroll < len(b) - BODY + 1 else len(b) - BODY
        ui.scroll = top
        b = b[top : top + BODY - 1] + [b[-1]]
    if ui.locked and s != OFF:
        ui.title = "\U0001f512 " + ui.title
    ui.lines = b


def _home(ui, b):
    st = ui.status()
    ui.title = st.get("state", "?").upper() + ("  LOCKED" if ui.locked else "")
    p = st.get("program")
    conc = p.get("conc_ug_ml") if p else None
    if p and (p.get("drug") or conc):
        b.append((p.get("drug", "") + (" %d µg/mL" % conc if conc else "")).strip())
    r = ui.pump.program_rate
    if r and conc:
        b.append("%d µg/24 h" % uiform.dose_of(r, conc))
    if st.get("rate_ml_h"):
        b.append(st["rate_ml_h"] + " mL/h")
    if st.get("syringe") is None:
        b.append("No syringe: load one")
    else:
        b.append("Given %s mL" % _ul_to_ml(st["delivered_ul"]))
        left = "Left %s mL" % _ul_to_ml(st["remaining_ul"])
        if st.get("time_remaining_s") is not None:
            s = st["time_remaining_s"]
            left += " %dh%02dm" % (s // 3600, s // 60 % 60)
        b.append(left)
    if st.get("alarms"):
        b.append("\U0001f514 " + st["alarms"][-1])
    if len(b) > BODY:
        del b[BODY:]


def _edit(ui, b):
    ui.title = {"load": "Load syringe", "program": "Program", "titrate": "Titrate"}[ui.act]
    fields = ui.form.fields
    for i in range(len(fields)):
        f = fields[i]
        if not f.on:
            continue
        b.append("%s %s" % (f.label, f.shown()))
        if i == ui.fi:
            ui.sel = len(b) - 1
    b.append("UP/DOWN OK  BACK")


def _alarm(ui, b):
    act = ui.pump.active_alarms()
    if not act:
        ui.title = "No alarm"
        return
    ui.ai %= len(act)
    a = act[ui.ai]
    d = a.as_dict()
    ui.title = "%s ALARM %d/%d" % (d["priority"].upper(), ui.ai + 1, len(act))
    # What (the kind, its text: Up/Down scroll it) above what must happen before a restart
    # (always whole), in pump.alarms()' words.
    what = [a.kind + (" (ack)" if d["acknowledged"] else "")]
    if a.text:
        what.extend(wrap(a.text))
    restart = wrap("To restart: " + d["to_restart"])
    room = BODY - 1 - len(restart)
    room = room if room > 0 else 1
    top = ui.scroll if ui.scroll < len(what) else len(what) - 1
    ui.scroll = top
    b.extend(what[top : top + room])
    b.extend(restart)
    b.append("STOP ack  OK silence")


def _info(ui, b):
    ui.title = "Info"
    st = ui.status()
    ident = ui.pump.ident()
    lines = [
        "Pump %s" % (ident["serial"] or "(no serial)"),
        "Image %s" % (ui.image_id or "-"),
        "Log %d records" % st.get("log_records", 0),
        "Boluses %d" % st.get("boluses", 0),
        "Alarms %d active" % len(st.get("alarms", ())),
        "Mode %s" % st.get("mode", "?"),
        "PIN %s" % ("set" if ui.proto.pin_set() else "not set"),
    ]
    if ident["uid"]:
        lines.insert(1, "Id %s" % ident["uid"])
    for a in ui.pump.alarms()[-4:]:
        lines.append("%s %s" % (a["kind"], "active" if a["active"] else "cleared"))
    if ui.scroll >= len(lines):
        ui.scroll = 0
    b.extend(lines[ui.scroll : ui.scroll + BODY])


def _bolus(ui, b):
    ui.title = "Bolus"
    p = ui.runner.prog
    if p is None or not p.bolus_nl:
        b.append("No bolus programmed")
        b.append("BACK")
        return
    b.append("%s mL over %d s" % (_ml(p.bolus_nl), p.bolus_us // 1000000))
    if getattr(p, "bolus_ug", 0):
        b.append("(%d µg)" % p.bolus_ug)
    why = ui.runner.bolus_check()  # the lockout left, in the runner's words
    if why is None:
        b.append("Allowed now")
        b.append("OK = give  BACK = no")
    else:
        b.extend(wrap(why[1]))
        b.append("BACK")


def draw(ui, cv):
    """ui's title and lines onto canvas cv (dark when the pump is off)."""
    cv.fill(0)
    if ui.screen == OFF:
        return
    if ui.title:
        cv.rect(0, 0, 128, 8, 1, fill=True)  # the title, dark on a lit bar
        cv.text(ui.title, 1, 0, 0)
    lines = ui.lines
    for i in range(len(lines)):
        if i >= BODY:
            break
        y = 8 + 8 * i
        cv.text(lines[i], 1, y, 1)
        if i == ui.sel:
            cv.invert(0, y, 128, 8)


def _ul_to_ml(ul_str):
    # status()'s "12345.678" uL -> "12.345" mL (to the uL, rounded down)
    ul = int(ul_str.split(".")[0])
    return "%d.%03d" % (ul // 1000, ul % 1000)


def _ml(nl):
    s = "%d.%06d" % (nl // 1000000, nl % 1000000)
    return s.rstrip("0").rstrip(".")
