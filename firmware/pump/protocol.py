# The pump protocol: line-delimited JSON, one request per line, one response per request.
# One pure handler, shared by the board (a UART or USB CDC channel) and the emulator.
#
#   -> {"id": 7, "cmd": "bolus", "args": {}, "pin": "1234"}
#   <- {"id": 7, "ok": true, "result": {...}}
#   <- {"id": 7, "ok": false, "error": {"code": "bolus_denied", "message": "...", ...}}
#
# Entry points: Protocol(pump, store, library=None, rand=None).handle_line(line) -> bytes (one
# response line, newline included) and feed(data) -> bytes (a byte stream: splits lines,
# bounds their length). Every command validates all of its input before it changes
# anything; a refused command changes nothing (a wrong PIN counts towards the lockout). A
# repeated request id is answered from a small cache and never executed twice; the same id
# with a different request is refused. Reference: pump/PROTOCOL.md.
import binascii
import hashlib
import json

from micropython import const

from pump import alarms as alarm_mod
from pump import controller as ctl
from pump import events, ticks
from pump import program as pg
from pump import rate as rates
from pump import runner as rn
from pump.api import check_serial

MAX_LINE = const(512)  # bytes per request line, newline excluded
CACHE = const(16)  # responses kept for repeated ids
PIN_ITER = const(64)  # sha256 rounds over salt + PIN
PIN_TRIES = const(5)  # wrong PINs in a row before the lockout
LOCKOUT_S = const(900)  # 15 min
TOKEN_S = const(600)  # a validation token is good for 10 min
LOG_MAX = const(16)  # records per log.read
GAP_MS = const(1000)  # a part line whose bytes stopped this long is dropped (feed, expire)

# PIN needed: everything that changes what will be delivered or how the pump is set up.
_PIN = ("program.set", "titrate", "clock.set", "config.set", "pin.change", "load")
_MODES = ("engineering", "clinical")
_CONFIG = {  # key: (lo, hi) for whole-number settings; mode is a name
    "pin_tries": (3, 10),
    "lockout_min": (1, 1440),
}


# Settings logged as CONFIG records when config.set changes them: (key, events.CONFIG_*).
_CONFIG_LOG = (("pin_tries", events.CONFIG_PIN_TRIES), ("lockout_min", events.CONFIG_LOCKOUT_MIN))


class ProtocolError(Exception):
    def __init__(self, code, message, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class MemoryStore:
    """Settings kept in RAM (tests, the emulator). The board keeps them in a JSON file on
    flash (FileStore): pin_salt, pin_hash, mode, pin_fails, and the config values."""

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.saves = 0

    def load(self):
        return dict(self.data)

    def save(self, data):
        self.data = dict(data)
        self.saves += 1


class FileStore:
    """Settings as one JSON file, written to a temporary name then renamed."""

    def __init__(self, path):
        self.path = path

    def load(self):
        try:
            with open(self.path) as f:
                d = json.load(f)
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self, data):
        import os

        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, self.path)


def _hex(b):
    return binascii.hexlify(b).decode()


def pin_hash(salt, pin):
    h = hashlib.sha256(salt + pin.encode()).digest()
    for _ in range(PIN_ITER - 1):
        h = hashlib.sha256(salt + h).digest()
    return _hex(h)


def _digest(line):
    return hashlib.sha256(line).digest()[:12]


def _only(a, keys):
    for k in a:
        if k not in keys:
            raise ProtocolError("bad_arg", "unknown argument %r" % k)


class Protocol:
    def __init__(self, pump, store, library=None, rand=None, runner=None):
        self.pump = pump
        self.store = store
        self.library = library
        self._rand = rand
        self.runner = runner or pump.program or rn.Runner(pump, pump.now())
        self.settings = store.load() or {}
        try:  # the pump's serial, kept with the settings: its pulled logs name it
            if self.settings.get("serial"):
                pump.serial = check_serial(self.settings["serial"])
        except ValueError:
            pass  # not one a config.set could have stored: the pump stays unnamed
        self._cache_ids = []  # oldest first
        self._cache = {}  # id -> (digest, response bytes)
        self._high = -1  # the highest id run: a new request needs a higher one
        self._pending = None  # (token, Program, elapsed s)
        self._tokens = 0
        self._locked_until = -1  # runner elapsed s
        self._buf = bytearray()
        self._drop = False  # discarding the rest of an oversized line
        self._last_ms = 0  # when feed() last got bytes (with a time)
        self.dropped = 0  # part lines dropped after a quiet gap
        self.executed = 0  # commands that ran (for tests: retries never add)
        if self.settings.get("pin_fails", 0) >= self._tries():
            # after a reset: locked for a full period again
            self._locked_until = self.settings.get("lockout_min", LOCKOUT_S // 60) * 60

    # --- streams ---

    def feed(self, data, now_ms=None):
        """Bytes from the channel -> the response bytes (possibly empty). Lines longer than
        MAX_LINE are answered once with too_long and their bytes dropped up to the newline.
        now_ms (ticks_ms, wrapping): with it, a part line whose bytes stopped GAP_MS before
        these came is dropped first (a host gone mid-line must not prefix the next one's)."""
        if now_ms is not None:
            self.expire(now_ms)
            self._last_ms = now_ms
        out = b""
        for b in data:
            if b == 10:  # newline
                if self._drop:
                    self._drop = False
                    out += self._error(None, "too_long", "line longer than %d bytes" % MAX_LINE)
                elif self._buf:
                    out += self.handle_line(bytes(self._buf))
                self._buf = bytearray()
            elif not self._drop:
                if len(self._buf) >= MAX_LINE:
                    self._drop = True
                    self._buf = bytearray()
                else:
                    self._buf.append(b)
        return out

    def expire(self, now_ms):
        """Drops a part line (or an oversized line's tail) that got no byte for GAP_MS, unanswered:
        True if there was one. The board's idle poll calls it while a line is part read."""
        if (self._buf or self._drop) and ticks.ticks_diff(now_ms, self._last_ms) >= GAP_MS:
            self._buf = bytearray()
            self._drop = False
            self.dropped += 1
            return True
        return False

    def partial(self):
        return bool(self._buf) or self._drop

    def held(self):
        """What the handler keeps between lines: (bytes of the part line, responses cached);
        both stay bounded (MAX_LINE, CACHE)."""
        return len(self._buf), len(self._cache)

    def fail_line(self, code, message):
        """The channel could not handle the line being read (out of memory, a bug): it is
        dropped with its bytes so far. Returns the error response for it (no id)."""
        self._buf = bytearray()
        self._drop = False
        return self._error(None, code, message)

    def handle_line(self, line):
        if isinstance(line, str):
            line = line.encode()
        line = line.strip()
        if len(line) > MAX_LINE:
            return self._error(None, "too_long", "line longer than %d bytes" % MAX_LINE)
        try:
            req = json.loads(line.decode())
        except (ValueError, UnicodeError):
            return self._error(None, "bad_json", "not a JSON object on one line")
        if not isinstance(req, dict):
            return self._error(None, "bad_request", "a request is a JSON object")
        rid = req.get("id")
        try:
            dup = _duplicate_key(line)
        except (IndexError, ValueError):
            return self._error(None, "bad_json", "not a JSON object on one line")
        if dup is not None:
            # json.loads keeps the last of two equal keys: refused, never guessed.
            rid = rid if dup != "id" and _good_id(rid) else None
            return self._error(rid, "bad_request", "duplicate key %r" % dup)
        if not _good_id(rid):
            return self._error(None, "bad_request", "id must be a whole number, 0 to 2**31 - 1")
        key = rid
        digest = _digest(line)
        hit = self._cache.get(key)
        if hit is not None:
            if hit[0] == digest:
                return hit[1]  # a retry: the same answer, nothing done again
            return self._error(rid, "id_reused", "this id was used for another request")
        if rid <= self._high:
            # Older than the cache remembers: it may have run, so it never runs now.
            msg = "ids must increase: %d is not above %d" % (rid, self._high)
            return self._error(rid, "id_old", msg)
        self._high = rid
        resp = self._run(rid, req)
        self._cache[key] = (digest, resp)
        self._cache_ids.append(key)
        if len(self._cache_ids) > CACHE:
            del self._cache[self._cache_ids.pop(0)]
        return resp

    # --- responses ---

    def _ok(self, rid, result):
        return (json.dumps({"id": rid, "ok": True, "result": result}) + "\n").encode()

    def _error(self, rid, code, message, extra=None):
        err = {"code": code, "message": message}
        if extra:
            err.update(extra)
        return (json.dumps({"id": rid, "ok": False, "error": err}) + "\n").encode()

    def _run(self, rid, req):
        for k in req:
            if k not in ("id", "cmd", "args", "pin"):
                return self._error(rid, "bad_request", "unknown key %r" % k)
        r = self.call(req.get("cmd"), req.get("args", {}), req.get("pin"), "pin" in req)
        if r[0]:
            return self._ok(rid, r[1])
        return self._error(rid, r[1], r[2], r[3])

    def call(self, cmd, args, pin=None, pin_given=None):
        """One command run as a request line runs it, without the line's id, retry cache
        or JSON: the pump's own keys (pump/ui.py) go through here, so a key does only what
        the protocol allows, with the same PIN check, lockout and refusals. pin_given: the
        request had a "pin" key (default: pin is not None). Returns (True, result) or
        (False, code, message, extra or None)."""
        fn = _COMMANDS.get(cmd) if isinstance(cmd, str) else None
        if fn is None:
            return False, "unknown_command", "unknown command %r" % (cmd,), None
        now = self.pump.now()
        try:
            self.runner.service(now)  # anything due happens before the command
            if cmd not in _PIN:
                if pin_given or (pin_given is None and pin is not None):
                    # never checked here, so never taken: refused, not counted
                    raise ProtocolError("bad_request", "%s takes no PIN" % cmd)
            elif cmd != "pin.change" or "pin_hash" in self.settings:
                self._check_pin(pin, now)
            if not isinstance(args, dict):
                raise ProtocolError("bad_arg", "args must be an object")
            result = fn(self, args, now)
            self.executed += 1
            return True, result
        except ProtocolError as e:
            return False, e.code, e.message, e.extra
        except pg.BolusDenied as e:
            return False, e.code, str(e), {"reason": e.reason}
        except pg.ProgramError as e:
            return False, e.code, str(e), None
        except ctl.PumpFault as e:
            return False, "fault", str(e), None
        except (ctl.TransitionError, alarm_mod.AlarmError) as e:
            return False, "refused", str(e), None
        except ValueError as e:  # RateError and the pump's own range checks
            return False, "out_of_range", str(e), None
        except MemoryError:
            return False, "busy", "out of memory: try again", None

    def check_pin(self, pin):
        """The clinician PIN checked as a PIN command checks it, before the keys open a
        change (pump/ui.py): a wrong one counts towards the lockout and is logged. Returns
        None if right, else (code, message)."""
        now = self.pump.now()
        try:
            self.runner.service(now)
            self._check_pin(pin, now)
        except ProtocolError as e:
            return e.code, e.message
        return None

    def pin_set(self):
        return "pin_hash" in self.settings

    # --- PIN ---

    def _setting(self, k):
        return self.settings.get(k, PIN_TRIES if k == "pin_tries" else LOCKOUT_S // 60)

    def _tries(self):
        return self.settings.get("pin_tries", PIN_TRIES)

    def _check_pin(self, pin, now):
        s = self.settings
        r = self.runner
        if self._locked_until >= 0:
            if r.s < self._locked_until:
                left = self._locked_until - r.s  # whole seconds, 1 to lockout_min * 60
                raise ProtocolError(
                    "pin_locked",
                    "too many wrong PINs: locked for %d min more" % ((left + 59) // 60),
                )
            self._locked_until = -1
            s["pin_fails"] = 0
            self.store.save(s)
        if "pin_hash" not in s:
            raise ProtocolError("pin_not_set", "no clinician PIN yet: set one with pin.change")
        if not _pin_form(pin):  # cannot be the PIN: refused, not counted
            raise ProtocolError(
                "pin_required", "this command needs the clinician PIN (4-8 digits)"
            )
        if pin_hash(binascii.unhexlify(s["pin_salt"]), pin) != s["pin_hash"]:
            fails = s.get("pin_fails", 0) + 1
            s["pin_fails"] = fails
            self.pump.log.add(now, events.PIN, 1, fails)
            if fails >= self._tries():
                self._locked_until = r.s + s.get("lockout_min", LOCKOUT_S // 60) * 60
                self.pump.log.add(now, events.PIN, 2, fails)
            self.store.save(s)
            raise ProtocolError("pin_wrong", "wrong PIN (%d of %d)" % (fails, self._tries()))
        if s.get("pin_fails"):
            s["pin_fails"] = 0
            self.store.save(s)

    # --- commands ---

    def c_status(self, a, now):
        _only(a, ())
        st = self.pump.status()
        st["alarm_priority"] = self.pump.sounding()
        st["mode"] = self.settings.get("mode", "engineering")
        st.update(self.runner.status())
        st.update(self.pump.ident())  # serial, uid: who this pump is (a log pull checks it)
        return st

    def c_alarms(self, a, now):
        _only(a, ())
        return self.pump.alarms()

    def _program(self, a):
        _only(a, ("program",))
        spec = a.get("program")
        if not isinstance(spec, dict):
            raise ProtocolError("bad_arg", "program must be an object")
        prog = pg.Program(spec)
        soft = self.library.check(prog) if self.library is not None else []
        return prog, soft

    def c_validate(self, a, now):
        prog, soft = self._program(a)
        if soft and not prog.confirm:
            raise ProtocolError(
                "soft_limit",
                'soft limit: %s; send again with "confirm": true to accept' % "; ".join(soft),
                {"limits": soft},
            )
        self.runner.check_set()
        self._tokens += 1
        token = _hex(
            hashlib.sha256(("%d:" % self._tokens).encode() + _digest(_canon(prog.spec))).digest()
        )
        token = token[:16]
        self._pending = (token, prog, self.runner.s)
        return {"token": token, "summary": prog.summary(), "soft_limits": soft}

    def c_set(self, a, now):
        _only(a, ("token",))
        tok = a.get("token")
        p = self._pending
        if p is None or tok != p[0] or self.runner.s - p[2] > TOKEN_S:
            raise ProtocolError(
                "token_invalid", "no matching validation: validate the program again"
            )
        self.runner.set(p[1], now)
        self._pending = None
        return {"summary": p[1].summary()}

    def c_start(self, a, now):
        _only(a, ())
        if self.pump.syringe is None:  # after every reset, until a load
            raise ProtocolError("refused", "cannot start: " + ctl.NO_SYRINGE)
        if self.runner.prog is None and self.pump.program_rate is None:
            raise ProtocolError("refused", "set a program first")
        self.pump.start()  # the program's schedule starts here (Runner.started)
        return {"state": self.pump.state}

    def c_pause(self, a, now):
        _only(a, ())
        self.pump.pause()
        return {"state": self.pump.state}

    def c_resume(self, a, now):
        _only(a, ())
        self.pump.resume()
        return {"state": self.pump.state}

    def c_stop(self, a, now):
        _only(a, ())
        self.pump.stop()  # never refused
        return {"state": self.pump.state}

    def c_bolus(self, a, now):
        _only(a, ())
        return self.runner.bolus(now)

    def c_titrate(self, a, now):
        _only(a, ("rate_ml_h", "dose_ug_24h", "next"))
        r = self.runner
        p = r.prog
        if p is None:
            raise ProtocolError("refused", "no program")
        if a.get("next") is True:
            if len(a) != 1:
                raise ProtocolError("bad_arg", "next goes alone")
            if r.next_step() is None:
                raise ProtocolError("refused", "the titration plan has no further step")
            r.titrate_next(now)
        else:
            if "next" in a:
                raise ProtocolError("bad_arg", "next must be true")
            rate, dose = p.one_rate(a, "titrate")
            r.titrate(now, rate, dose)
        return {"rate_ml_h": rates.ml_per_h_str(*self.pump.program_rate)}

    def c_ack(self, a, now):
        _only(a, ())
        return {"acknowledged": self.pump.ack()}

    def c_silence(self, a, now):
        _only(a, ())
        self.pump.silence()
        return {"silenced_s": alarm_mod.SILENCE_US // 1000000}

    def c_log(self, a, now):
        _only(a, ("seq", "n"))
        seq = pg.get_int(a, "seq", 0, (1 << 31) - 1)
        n = pg.get_int(a, "n", 1, LOG_MAX, 8)
        if not hasattr(self.pump.log, "read"):
            raise ProtocolError("not_available", "this pump keeps no flash log")
        page = self.pump.log_read(seq, n)
        return {"records": _hex(page), "count": len(page) // 20}

    def c_clock(self, a, now):
        _only(a, ("utc",))
        if "utc" not in a:
            raise ProtocolError("bad_arg", "utc is required")
        old = self.runner.set_clock(now, a["utc"])
        return {"from": old, "to": a["utc"]}

    def c_config_get(self, a, now):
        _only(a, ())
        s = self.settings
        out = {"mode": s.get("mode", "engineering"), "pin_set": "pin_hash" in s}
        out["serial"] = self.pump.serial
        for k in _CONFIG:
            out[k] = self._setting(k)
        if self.library is not None:
            out["drugs"] = self.library.summary()
        return out

    def c_config_set(self, a, now):
        if not a:
            raise ProtocolError("bad_arg", "give at least one setting")
        _only(a, ("mode", "serial") + tuple(_CONFIG))
        new = dict(self.settings)
        for k, v in a.items():
            if k == "mode":
                if v not in _MODES:
                    raise ProtocolError("out_of_range", "mode is engineering or clinical")
                new[k] = v
            elif k == "serial":
                try:
                    new[k] = check_serial(v)
                except ValueError as e:
                    raise ProtocolError("out_of_range", str(e)) from None
            else:
                lo, hi = _CONFIG[k]
                new[k] = pg.get_int(a, k, lo, hi)
        if new.get("mode", "engineering") != self.settings.get("mode", "engineering"):
            self.pump.log.add(now, events.PIN, 4, 1 if new["mode"] == "clinical" else 0)
        for k, code in _CONFIG_LOG:  # a fixed order (MicroPython's dicts keep none)
            if k in a and new[k] != self._setting(k):
                self.pump.log.add(now, events.CONFIG, code, new[k])
        self.store.save(new)
        self.settings = new
        if "serial" in a:
            self.pump.serial = new["serial"]
        return {"saved": list(a), "note": "mode takes effect at the next reset"}

    def c_pin(self, a, now):
        _only(a, ("new",))
        new = a.get("new")
        if not _pin_form(new):
            raise ProtocolError("out_of_range", "a PIN is 4 to 8 digits")
        if self._rand is None:
            raise ProtocolError("not_available", "no random source for the salt")
        salt = bytes(self._rand(16))
        s = dict(self.settings)
        s["pin_salt"] = _hex(salt)
        s["pin_hash"] = pin_hash(salt, new)
        s["pin_fails"] = 0
        self.store.save(s)
        self.settings = s
        self.pump.log.add(now, events.PIN, 3, 0)
        return {"pin_set": True}

    def c_load(self, a, now):
        _only(a, ("syringe", "fill_ml"))
        syr, fill = a.get("syringe"), a.get("fill_ml")
        if not isinstance(syr, str) or not isinstance(fill, str):
            raise ProtocolError("bad_arg", "syringe (an id) and fill_ml (a decimal string)")
        self.pump.load(syr, fill)
        self.runner.clear()
        self._pending = None
        return {"syringe": syr, "fill_ml": fill}


_COMMANDS = {
    "status": Protocol.c_status,
    "alarms": Protocol.c_alarms,
    "program.validate": Protocol.c_validate,
    "program.set": Protocol.c_set,
    "start": Protocol.c_start,
    "pause": Protocol.c_pause,
    "resume": Protocol.c_resume,
    "stop": Protocol.c_stop,
    "bolus": Protocol.c_bolus,
    "titrate": Protocol.c_titrate,
    "alarm.ack": Protocol.c_ack,
    "alarm.silence": Protocol.c_silence,
    "log.read": Protocol.c_log,
    "clock.set": Protocol.c_clock,
    "config.get": Protocol.c_config_get,
    "config.set": Protocol.c_config_set,
    "pin.change": Protocol.c_pin,
    "load": Protocol.c_load,
}


def _duplicate_key(s):
    """The first key that comes twice in one object of s (the bytes of a JSON text that
    json.loads took), at any depth, or None. json.loads keeps the last of two, and
    MicroPython's has no object_pairs_hook (and reads , and : as blanks), so the line is
    scanned: the items of an object are its keys and values in turn, strings are skipped
    whole, keys are compared decoded ("c\\u006dd" is "cmd")."""
    stack = []  # per open container: the keys of an object, or None for an array
    key = False  # the next item of the innermost object is a key
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == 123 or c == 91:  # { [
            stack.append([] if c == 123 else None)
            key = c == 123
            i += 1
            continue
        if c == 125 or c == 93:  # } ]: the container was a value of the one around it
            stack.pop()
            key = len(stack) > 0 and stack[-1] is not None
            i += 1
            continue
        if c <= 32 or c == 44 or c == 58:  # blanks , :
            i += 1
            continue
        if c == 34:  # a string: to its closing quote, over escapes
            j = i + 1
            while True:
                q = s.find(b'"', j)
                if q < 0:
                    raise ValueError("unterminated string")
                e = s.find(b"\\", j, q)
                if e < 0:
                    break
                j = e + 2
            end = q + 1
        else:  # a number, true, false, null: to the next delimiter
            end = i + 1
            while end < n:
                c = s[end]
                if c <= 32 or c == 44 or c == 58 or c == 34 or c in _BRACKETS:
                    break
                end += 1
        keys = stack[-1]
        if keys is not None:
            if key:
                k = s[i:end]
                if k[0] == 34:  # a string key, decoded; a bare one stays bytes (1 is not "1")
                    k = json.loads(k) if k.find(b"\\") >= 0 else k[1:-1].decode()
                if k in keys:
                    return k
                keys.append(k)
            key = not key
        i = end
    return None


_BRACKETS = (91, 93, 123, 125)


def _pin_form(pin):
    """A PIN is 4 to 8 ASCII digits."""
    if not isinstance(pin, str) or not 4 <= len(pin) <= 8:
        return False
    for c in pin:
        if not "0" <= c <= "9":
            return False
    return True


def _good_id(rid):
    return pg.is_int(rid) and 0 <= rid < (1 << 31)


def _canon(spec):
    return json.dumps(spec).encode()
