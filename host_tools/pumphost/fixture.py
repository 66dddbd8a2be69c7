"""Host side of the bench fixture's line protocol (hil/fixture/PROTOCOL.md).

The fixture (a second Pico running hil/fixture/) streams every STEP, DIR and EN edge of the
pump board, and of MARK (a spare line a test may pulse), with its time in ticks of its own
clock, and answers one request at a time. A reader thread files the edges as they come;
`request` sends a line and waits for its reply.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left

import serial

from pumphost.paths import REPO

FIXTURE_DIR = REPO / "hil" / "fixture"
FILES = ("pumpfix.py", "main.py")  # what goes on the fixture's flash
CHANNELS = ("step", "dir", "en", "mark")  # E lines: channel index 0, 1, 2, 3
OUTPUTS = ("SYR", "END")
VERSION = 2  # of the protocol this host speaks (PROTOCOL.md); the fixture says its own


class FixtureError(Exception):
    """The fixture refused a request, reported an overrun, or stopped answering."""


class FixtureUnreachable(FixtureError):
    """Nothing at the port, or no fixture firmware answering there."""


def firmware_files() -> dict[str, bytes]:
    """The fixture's files, as `mpremote cp` puts them on its flash."""
    return {f"/{name}": (FIXTURE_DIR / name).read_bytes() for name in FILES}


class _Channel:
    """One input's edges: rising and falling tick lists (in order) and the last level."""

    def __init__(self) -> None:
        self.rising: list[int] = []
        self.falling: list[int] = []
        self.level = 0


class FixtureClient:
    """The fixture at a serial port or socket:// URL. Times are ticks of the fixture's clock
    (`tick_ns` each, 40 ns) since it started capturing."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.tick_ns = 40
        self.version = 0
        self.notices: list[str] = []
        self._ch = [_Channel() for _ in CHANNELS]
        self._replies: list[str] = []
        self._cond = threading.Condition()
        self._one_at_a_time = threading.Lock()  # a request and its reply, whoever asks
        self._closed = False
        self._fault: str | None = None
        try:
            self._port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)
        except (OSError, ValueError) as e:  # serial.SerialException is an OSError
            raise FixtureUnreachable(f"cannot open {url}: {e}") from None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        try:
            words = self.request("V", timeout=3.0)
        except FixtureError as e:
            self.close()
            raise FixtureUnreachable(
                f"no bench fixture firmware answered at {url} ({e}); flash hil/fixture "
                "(hil/fixture/BENCH.md)"
            ) from None
        if words[1] != "pumpfix":
            self.close()
            raise FixtureUnreachable(f"{url} answered {' '.join(words)!r}, not the fixture")
        self.version = int(words[2])
        self.tick_ns = int(words[4])
        if self.version != VERSION:
            self.close()
            raise FixtureUnreachable(
                f"the fixture at {url} runs protocol version {self.version}, this host speaks "
                f"{VERSION}: flash hil/fixture again (hil/fixture/BENCH.md)"
            )

    # ---- the reader ----

    def _read(self) -> None:
        pending = b""
        while not self._closed:
            try:
                # what is there, or the first byte to come: read(n) would wait for all n
                data = self._port.read(max(1, self._port.in_waiting))
            except (OSError, TypeError, AttributeError):  # closed under us
                break
            if not data:
                continue
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._line(raw.decode(errors="replace").strip())
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _line(self, line: str) -> None:
        if not line:
            return
        if line.startswith("E "):
            _, i, level, tick = line.split()
            ch = self._ch[int(i)]
            with self._cond:
                (ch.rising if level == "1" else ch.falling).append(int(tick))
                ch.level = int(level)
            return
        with self._cond:
            if line.startswith("!"):
                self.notices.append(line)
                if line.startswith("! overrun"):
                    self._fault = line
            else:
                self._replies.append(line)
            self._cond.notify_all()

    # ---- requests ----

    def request(self, line: str, timeout: float | None = None) -> list[str]:
        """Sends one request; returns its reply's words. Raises FixtureError on ERR."""
        cmd = line.split()[0]
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._one_at_a_time, self._cond:
            if self._fault:
                raise FixtureError(f"the fixture lost edges: {self._fault}")
            self._replies.clear()
            self._port.write(line.encode() + b"\n")
            self._port.flush()
            while True:
                for i, reply in enumerate(self._replies):
                    words = reply.split()
                    if words[0] == cmd:
                        del self._replies[: i + 1]
                        return words
                    if words[0] == "ERR" and words[1:2] == [cmd]:
                        raise FixtureError(f"{line}: {reply}")
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    seen = "; ".join(self._replies[-3:]) or "nothing"
                    raise FixtureError(f"no reply to {line!r} from {self.url} (got {seen})")
                self._cond.wait(left)

    def now(self) -> int:
        """The fixture's time (ticks); every edge before it has been received."""
        return int(self.request("T")[1])

    def edges(
        self, channel: str, since: int = 0, until: int | None = None
    ) -> tuple[list[int], list[int]]:
        """(rising, falling) ticks of an input with since <= t < until (default: now)."""
        end = self.now() if until is None else until
        ch = self._ch[CHANNELS.index(channel)]
        with self._cond:
            r, f = ch.rising, ch.falling
            return (
                r[bisect_left(r, since) : bisect_left(r, end)],
                f[bisect_left(f, since) : bisect_left(f, end)],
            )

    def rising_count(self, channel: str) -> int:
        """Rising edges received so far on an input (never reset)."""
        with self._cond:
            return len(self._ch[CHANNELS.index(channel)].rising)

    def levels(self) -> dict[str, int]:
        """The inputs' levels now (asked of the fixture)."""
        words = self.request("L")
        return {name: int(words[1 + i]) for i, name in enumerate(CHANNELS)}

    def level(self, channel: str) -> int:
        """An input's level now (asked of the fixture)."""
        return self.levels()[channel]

    def output(self, name: str, value: int) -> int:
        """Drives SYR (the syringe switch) or END (end-stop); returns the tick it changed."""
        if name not in OUTPUTS:
            raise ValueError(f"no fixture output {name!r} (one of {', '.join(OUTPUTS)})")
        return int(self.request(f"O {name} {int(bool(value))}")[3])

    def hx711(self, counts: int | None = None, mode: str | None = None) -> int:
        """What the played HX711 gives from its next conversion: counts (signed 24-bit), or
        mode `open` (DOUT high, no conversions), `saturated` (loadcell.RAW_MAX), `ok`; the tick."""
        if mode == "open":
            arg = "OPEN"
        elif mode == "saturated":
            arg = "SAT"
        elif counts is not None:
            arg = str(int(counts))
        elif mode in (None, "ok"):
            arg = "OK"
        else:
            raise ValueError(f"unknown HX711 mode {mode!r}")
        return int(self.request(f"H {arg}")[2])

    def run_pin(self, level: int) -> int:
        """Drives the pump's RUN pin low (0: held in reset) or lets it go (1); the tick."""
        return int(self.request(f"RUN {int(bool(level))}")[2])

    def reset_pulse(self, ms: int) -> tuple[int, int]:
        """RUN low for ms, then released; the ticks of both edges."""
        words = self.request(f"RST {int(ms)}", timeout=self.timeout + ms / 1000)
        return int(words[1]), int(words[2])

    def cut_on_mark(self, delay_ticks: int, ms: int, timeout_ms: int) -> tuple[int, int]:
        """The pump's RUN low delay_ticks after the next rising edge of MARK, for ms (a
        PIO state machine times it: a few cycles); the ticks of the edge it cut on and of RUN
        released. FixtureError (nothing cut) if no edge came within timeout_ms."""
        words = self.request(
            f"CUT {int(delay_ticks)} {int(ms)} {int(timeout_ms)}",
            timeout=self.timeout + (timeout_ms + ms) / 1000,
        )
        return int(words[1]), int(words[2])

    def stats(self) -> dict[str, int]:
        words = self.request("Z")
        keys = ("edges", "lost", "hx711_conversions", "rx_stalls")
        return dict(zip(keys, map(int, words[1:]), strict=True))

    def close(self) -> None:
        self._closed = True
        try:
            self._port.close()
        except OSError:
            pass
        self._thread.join(2)


def deploy(url: str, timeout: float = 60.0) -> str:
    """Puts the fixture's files on a MicroPython board's flash (as `mpremote cp` does) and
    soft-resets it so main.py starts the fixture; returns the fixture's ready line."""
    from mpremote.transport_serial import SerialTransport  # only needed here

    t = SerialTransport(url, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        for path, data in firmware_files().items():
            t.fs_writefile(path, data)
        t.exit_raw_repl()
        t.serial.write(b"\x04")  # Ctrl-D at the friendly REPL: soft reset, main.py runs
        got = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in got[got.find(b"! pumpfix") :] or b"! pumpfix" not in got:
            if time.monotonic() > deadline:
                tail = got[-300:].decode(errors="replace")
                raise FixtureError(f"the fixture did not start on {url}; it said:\n{tail}")
            n = t.serial.inWaiting()
            got += t.serial.read(n) if n else b""
            if not n:
                time.sleep(0.01)
    finally:
        t.close()
    text = got.decode(errors="replace")
    return next(ln.strip() for ln in text.splitlines() if ln.startswith("! pumpfix"))
