# The pump protocol (pump/protocol.py, reference pump/PROTOCOL.md) on UART1 of the board, and
# the locked clinical mode. boardapp.py starts it after the pump:
#
#   link = protolink.start(proto)    # UART1 at 115200 8N1, polled from its own soft timer
#   if protolink.stored_mode() == protolink.CLINICAL:
#       protolink.lock_repl()        # never returns: the REPL is off
#
# The poll is a soft-timer callback, i.e. scheduled: it never runs inside the pump's service
# step (also scheduled) and the service step never runs inside it; pump.api.Pump guards its
# commands against a service step that came in the middle of them anyway. Memory is bounded:
# a 1 KB RX ring in the UART driver, at most LINES lines handled per poll, and one poll's
# responses waiting to go out (the next lines wait in the UART's ring meanwhile).
from time import ticks_ms

import micropython
from machine import UART, Pin, Timer, disable_irq, enable_irq

import board
from pump import events, protocol

BAUD = 115200
POLL_MS = 20  # 230 bytes arrive in 20 ms at 115200 baud: the 1 KB ring holds 4 polls' worth
IDLE_MS = 100  # with no traffic: a request waits at most this long; 1 KB is 89 ms of bytes,
# and a host sends one request (at most 512 bytes) and waits for its answer
QUIET_POLLS = 50  # 1 s without traffic slows the poll down
RXBUF = 1024
TXBUF = 2048  # a status or log.read answer (under 1 KB) goes out without waiting
CHUNK = 256  # bytes taken from the UART per read
LINES = 2  # requests handled per poll: bounds the time the service step may wait
SETTINGS = "/settings.json"  # PIN hash and salt, mode, pin_fails, ... (protocol.FileStore)
DRUGLIB = "/druglib.json"  # the drug library, if one was copied to the flash
CLINICAL = "clinical"
IMAGE_ID = "/image_id"  # the id of the image that booted last (follow_image)


def stored_mode(path=SETTINGS):
    """The mode on flash: "clinical" only if the settings say so; a missing or unreadable
    file is a pump never set up (no PIN either), so engineering."""
    m = protocol.FileStore(path).load().get("mode")
    return CLINICAL if m == CLINICAL else "engineering"


def follow_image(image_id, log, tick, path=IMAGE_ID):
    """At boot: if this image is not the one that booted last (a reflash), a pump left in
    clinical mode goes back to engineering mode (the REPL comes back), and the log says so.
    Returns True on a new image."""
    try:
        with open(path) as f:
            last = f.read().strip()
    except OSError:
        last = None
    if last == image_id:
        return False
    store = protocol.FileStore(SETTINGS)
    settings = store.load()
    if settings.get("mode") == CLINICAL:
        settings["mode"] = "engineering"
        store.save(settings)
        log.add(tick, events.PIN, 4, 0)  # mode changed: engineering
        print("new image: clinical mode left (reflashed); engineering mode, REPL on")
    with open(path, "w") as f:
        f.write(image_id)
    return True


def library(path=DRUGLIB):
    """The drug library on flash for the protocol, or None; says at boot which."""
    lib, said = _library(path)
    print("protocol:", said)
    return lib


def _library(path):
    try:
        open(path).close()
    except OSError:
        return None, "no drug library (%s)" % path
    from pump import druglib

    try:
        lib = druglib.load(path)
    except (ValueError, OSError) as e:
        # A library that does not validate is not used: every program is then refused by
        # nothing but the program's own checks. Said loudly at boot.
        return None, "drug library %s refused: %s" % (path, e)
    return lib, "drug library %s: %d drugs" % (path, len(lib.summary()))


def urandom(n):
    import os

    return os.urandom(n)


class Link:
    """One protocol handler on one stream-like port (any/read/write, non-blocking). poll() is
    the soft timer's callback."""

    def __init__(self, proto, port):
        self.proto = proto
        self.port = port
        self._in = b""  # read from the port, not yet handed to the protocol
        self._out = None  # memoryview of the responses not yet written
        self.lines = 0  # responses produced (for tests and the REPL)
        self.faults = 0  # handler exceptions caught here (should stay 0)
        self.timer = None  # the soft timer that calls poll() (start() makes it)
        self.slow = False  # polled every IDLE_MS (no traffic lately), else every POLL_MS
        self._quiet = 0
        self._mid = False  # the protocol holds a part line (dropped after a quiet gap)
        self._cb = self.poll  # bound once: re-arming the timer allocates nothing

    def poll(self, busy=None):
        # busy: the timer that calls it (not used), then whether this poll had work. One
        # local fewer keeps the frame on the C stack (over 44 bytes MicroPython tries the
        # heap first, a search of the allocation table on every call).
        try:
            # The idle poll (nothing read, nothing to send, nothing arrived) in a line: it
            # runs 10 times a second for as long as the pump is up, so it stays cheap.
            busy = (self._out is not None or self._in or self.port.any()) and self._poll()
            if self._mid and not busy:
                self._expire()
        except KeyboardInterrupt:
            # A host's Ctrl-C meant for the REPL's code, raised here between two requests:
            # at most an answer was cut short, and the host's retry gets it from the cache.
            busy = True
        # Every POLL_MS while a host talks, every IDLE_MS after QUIET_POLLS quiet polls (an
        # idle poll is about 2,000 instructions of the core: 20,000 a second at IDLE_MS).
        if busy:
            self._quiet = 0
            if self.slow:
                self.every(POLL_MS)
        elif not self.slow:
            self._quiet += 1
            if self._quiet >= QUIET_POLLS:
                self.every(IDLE_MS)

    def every(self, ms):
        """Poll every `ms` (POLL_MS or IDLE_MS) from now on, on the link's timer."""
        self.slow = ms != POLL_MS
        if self.timer is not None:
            self.timer.init(mode=Timer.PERIODIC, period=ms, callback=self._cb)

    def _poll(self, off=disable_irq, on=enable_irq):
        """One poll: True if anything came in or is still going out."""
        if self._flush():
            return True  # answers still waiting to go out: read nothing more meanwhile
        port = self.port
        for k in range(LINES):
            if not self._in:
                n = port.any()
                if not n:
                    return k > 0
                self._in = port.read(min(n, CHUNK)) or b""
            data = self._in
            i = data.find(b"\n")
            if i < 0:
                self._in = b""
            else:
                data, self._in = data[: i + 1], data[i + 1 :]
            # A request runs with interrupts off (a few ms; the PIO steps on from its FIFO,
            # the host waits for the answer): a Ctrl-C at the REPL must never cut a command
            # half way (a bolus granted, its answer not cached). One pending from just
            # before is raised by the `if` before the command begins, and dropped.
            s = off()
            try:
                try:
                    if data:
                        pass
                except KeyboardInterrupt:
                    pass
                out = self._feed(data)
            finally:
                on(s)
            if out:
                self.lines += 1
                self._out = memoryview(out)
                if self._flush():
                    return True
        return True

    def _expire(self):
        """A part line that got no byte for protocol.GAP_MS is dropped: the host that sent it
        went away (a UART has no disconnect), and the next host's first line must not be
        appended to it."""
        if self.proto.expire(ticks_ms()) or not self.proto.partial():
            self._mid = False

    def _feed(self, data):
        try:
            out = self.proto.feed(data, ticks_ms())
            self._mid = self.proto.partial()
            return out
        except MemoryError:
            code, msg = "busy", "out of memory: try again"
        except Exception as e:  # noqa: BLE001 - a bug in a handler must not kill the channel
            code, msg = "internal", "%s: %s" % (type(e).__name__, e)
        # The line being read is dropped with its bytes up to the newline.
        self.faults += 1
        self._mid = False
        return self.proto.fail_line(code, msg)

    def _flush(self):
        """Writes what the UART's TX ring takes now; True while something is left."""
        out = self._out
        if out is None:
            return False
        n = self.port.write(out) or 0  # timeout=0: what fits, None when nothing did
        if n >= len(out):
            self._out = None
            return False
        self._out = out[n:]
        return True


def start(proto):
    """The protocol handler (pump.app.build's) on UART1, polled every POLL_MS from a soft
    timer; returns the Link."""
    uart = UART(
        1,
        BAUD,
        tx=Pin(board.PINS["proto_tx"]),
        rx=Pin(board.PINS["proto_rx"]),
        rxbuf=RXBUF,
        txbuf=TXBUF,
        timeout=0,
        timeout_char=0,
    )
    link = Link(proto, uart)
    link.timer = Timer(-1)
    link.every(POLL_MS)
    pins = (board.PINS["proto_tx"], board.PINS["proto_rx"], BAUD)
    print("protocol: UART1 (GP%d TX, GP%d RX) at %d baud" % pins)
    return link


def lock_repl():
    """Clinical mode: the REPL off for good (until a reset into engineering mode). Ctrl-C is
    a plain character and everything that comes in on the REPL's channel (USB CDC on the
    Pico, UART0 on the virtual one) is read and dropped, so neither Ctrl-C nor mpremote ever
    gets a prompt. Never returns: boardapp (imported by _boot.py) stays here, and the
    scheduled callbacks (the pump's service step, the protocol's poll) run while it waits."""
    import sys

    micropython.kbd_intr(-1)
    print("clinical mode: the REPL is off; the pump protocol on UART1 is the way in")
    read = sys.stdin.buffer.read
    while True:
        try:
            read(1)
        except BaseException:  # noqa: BLE001 - nothing may end this loop
            micropython.kbd_intr(-1)
