"""Virtual Pico: our rp2 image on rp2040js through the node bridge in host_tools/vboard.

The REPL is a TCP port (`mpremote connect socket://127.0.0.1:2217 ...`); the control channel
on the next port speaks newline-delimited JSON. Simulated time advances only during `run_ns`
and `power_cut` (full speed) and while a REPL client is connected (paced to wall time), so a
test that counts pulses between two control calls gets the same answer every time.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from pump import loadcell
from pumphost import boards
from pumphost.paths import CACHE, REPO

VBOARD_DIR = REPO / "host_tools" / "vboard"
BRIDGE = VBOARD_DIR / "bridge.mjs"
DEFAULT_IMAGE = CACHE / "images" / "vpico" / "firmware.bin"
DEFAULT_BOOTROM = CACHE / "bootrom" / "bootrom.bin"
DEFAULT_FLASH = CACHE / "vboard" / "flash.bin"
RUN_DIR = CACHE / "vboard"
DEFAULT_PORT = 2217
_READY = "vboard: ready "
_F = TypeVar("_F", bound=Callable[..., Any])


class VBoardError(Exception):
    """The bridge could not start, died, or refused a request."""


def free_port_pair(host: str) -> int:
    """A port p such that p and p + 1 were free a moment ago (for tests run side by side)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port + 1))
            except OSError:
                continue
        return port
    raise VBoardError("no free pair of TCP ports")


def ensure_bridge_deps() -> str:
    """Path of node; installs the pinned rp2040js (npm ci) if node_modules is missing."""
    node = shutil.which("node")
    if node is None:
        raise VBoardError("node not found: the virtual board needs Node.js 20 on PATH")
    if not (VBOARD_DIR / "node_modules" / "rp2040js" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise VBoardError("npm not found: needed once to install rp2040js (npm ci)")
        res = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=VBOARD_DIR, capture_output=True, text=True
        )
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["npm ci failed"])[-1]
            raise VBoardError(f"npm ci in {VBOARD_DIR} failed: {last}")
    return node


@dataclass(eq=False)
class NodeBridge:
    """A node main of host_tools/vboard (bridge.mjs, pair.mjs) run from Python: it prints
    `vboard: ready ...` once its ports listen, or `vboard: error: ...` and exits. Subclasses
    build its arguments and talk to it; use as a context manager, or call start() and close().
    """

    script: ClassVar[Path] = BRIDGE
    what: ClassVar[str] = "the bridge"  # in errors: "... did not start in time", "... stopped"

    image: Path | None = DEFAULT_IMAGE
    _: KW_ONLY
    flash: Path | None = None
    fresh: bool = False
    port: int = DEFAULT_PORT  # the (pump's) REPL; 0: a free one
    bootrom: Path = DEFAULT_BOOTROM
    host: str = "127.0.0.1"
    echo_output: bool = False
    start_timeout: float = 30.0
    proto_port: int | None = None  # UART1 (the pump protocol) on TCP: the port it took

    def __post_init__(self) -> None:
        self.output: deque[str] = deque(maxlen=200)
        self.ready_line = ""
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The (pump's) REPL: what mpremote connects to."""
        return f"socket://{self.host}:{self.port}"

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _launch(self, args: list[str]) -> None:
        """Starts the script with the options every main takes and args, and waits for its
        ready line (VBoardError if it ends first or takes longer than start_timeout)."""
        node = ensure_bridge_deps()
        cmd = [node, str(self.script), "--bootrom", str(self.bootrom), "--host", self.host]
        cmd += ["--port", str(self.port)]
        if self.image is not None:
            cmd += ["--image", str(self.image)]
        if self.flash is not None:
            cmd += ["--flash", str(self.flash)]
        if self.fresh:
            cmd.append("--fresh")
        self._proc = subprocess.Popen(
            [*cmd, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop the bridge
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                self._proc.wait()
                raise VBoardError(self.last_error() or f"{self.what} did not start in time")

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if line.startswith(_READY):
                self.ready_line = line
                if " proto=socket://" in line:  # the port the bridge took (0: any free one)
                    self.proto_port = int(line.rpartition(":")[2])
                self._ready.set()
            elif self.echo_output and self._ready.is_set():  # start errors are raised instead
                print(line, file=sys.stderr, flush=True)

    def last_error(self) -> str:
        """The bridge's last `vboard: error:` (else its last line of output)."""
        for line in reversed(self.output):
            if line.startswith("vboard: error: "):
                return line.removeprefix("vboard: error: ")
        return self.output[-1] if self.output else ""

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The node process's id; None before start()."""
        return self._proc.pid if self._proc is not None else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Waits for the bridge to end; its exit status, or None on timeout."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _end(self) -> None:
        """Waits for the bridge to end after a `quit` (it saves its --flash files), else
        stops it."""
        if self._proc is None:
            return
        if self.wait(10) is None:
            self._proc.terminate()
            if self.wait(5) is None:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(eq=False)
class VirtualBoard(NodeBridge):
    """A running virtual Pico; use as a context manager, or call start() and close().

    port=0 picks a free pair of ports (REPL, control). devices: the board definition whose
    load cell (an HX711, idle at zero force) and seated syringe switch are wired to the pins
    at start, as on the pump; None for a bare chip (MicroPython's own tests). proto_port:
    None is the REPL port + 2 (any free port with port=0), -1 none (proto_url).
    """

    _: KW_ONLY
    control_port: int | None = None
    extra_args: tuple[str, ...] = ()
    devices: str | None = "vpico"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ctl: socket.socket | None = None
        self._ctl_file: Any = None
        self._lock = threading.Lock()

    @property
    def proto_url(self) -> str:
        """UART1, the pump protocol's channel (`pumpctl --port URL status`)."""
        if not self.proto_port or self.proto_port < 0:
            raise VBoardError("this virtual board has no protocol port")
        return f"socket://{self.host}:{self.proto_port}"

    # ---- process ----

    def start(self) -> Self:
        if self.proto_port is None:
            self.proto_port = 0 if self.port == 0 else self.port + 2
        if self.port == 0:
            self.port = free_port_pair(self.host)
        if self.control_port is None:
            self.control_port = self.port + 1
        args = ["--control-port", str(self.control_port)]
        if self.proto_port >= 0:
            args += ["--proto-port", str(self.proto_port)]
        self._launch([*args, *self.extra_args])
        # A `run` replies when simulated time got there: with the pump stepping that takes
        # seconds of wall time per simulated minute, more on a loaded machine.
        self._ctl = socket.create_connection((self.host, self.control_port), timeout=300)
        self._ctl_file = self._ctl.makefile("rwb")
        if self.devices is not None:
            self.wire_devices(boards.load(self.devices))
        return self

    def wire_devices(self, board: boards.Board) -> None:
        """The pump's devices on a fresh board, before it boots (simulated time is still 0):
        the HX711 at zero force with the firmware's nominal calibration, and the syringe
        switch closed. A board definition without a load cell gets nothing."""
        if not board.load_cell:
            return
        self.hx711_attach(board.pins["hx711_dout"], board.pins["hx711_sck"])
        self.hx711(counts=loadcell.DEFAULT_OFFSET)
        self.set_input(board.pins["syringe"], board.syringe_seated)

    @classmethod
    def attach(cls, host: str, control_port: int, port: int | None = None) -> VirtualBoard:
        """The control channel of a board started elsewhere (`pumpctl vboard start`): time,
        pins, edges and power, without owning the bridge (close() only disconnects)."""
        vb = cls(None, host=host, port=port if port is not None else control_port - 1)
        vb.control_port = control_port
        vb.proto_port = vb.port + 2  # what `pumpctl vboard start` opens
        try:
            vb._ctl = socket.create_connection((host, control_port), timeout=300)
        except OSError as e:
            msg = f"no virtual board control channel at {host}:{control_port}: {e}"
            raise VBoardError(msg) from None
        vb._ctl_file = vb._ctl.makefile("rwb")
        return vb

    def close(self) -> None:
        """Stops the bridge (it saves its --flash file) and waits for it."""
        if self._proc is None:
            if self._ctl is not None:  # attached: just disconnect
                self._ctl_file.close()
                self._ctl.close()
                self._ctl = self._ctl_file = None
            return
        if self.alive and self._ctl_file is not None:
            self.quit()
        self._end()
        if self._ctl is not None:
            self._ctl_file.close()
            self._ctl.close()
            self._ctl = None
            self._ctl_file = None

    # ---- control channel ----

    def quit(self) -> None:
        """Asks the bridge to save its --flash files and end (nothing if it has gone)."""
        try:
            self.request("quit")
        except (OSError, VBoardError):
            pass

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Sends one request and returns its reply; raises VBoardError on {"ok": false}."""
        if self._ctl_file is None:
            raise VBoardError("the virtual board is not running")
        line = json.dumps({"cmd": cmd, **args}).encode() + b"\n"
        with self._lock:
            self._ctl_file.write(line)
            self._ctl_file.flush()
            reply = self._ctl_file.readline()
        if not reply:
            raise VBoardError(f"the bridge closed the control channel ({self.last_error()})")
        data: dict[str, Any] = json.loads(reply)
        if not data.get("ok"):
            raise VBoardError(f"{cmd}: {data.get('error')}")
        return data

    def now_ns(self) -> int:
        return int(self.request("time")["time_ns"])

    def run_ns(self, ns: int) -> int:
        """Runs simulated time forward by ns; returns the simulated time reached."""
        return int(self.request("run", ns=int(ns))["time_ns"])

    def count(self, pin: int) -> int:
        """Rising edges on pin since reset or clear()."""
        return int(self.request("count", pin=pin)["count"])

    def edges(
        self, pin: int, since_ns: int = 0, until_ns: int | None = None
    ) -> tuple[list[int], list[int]]:
        """(rising, falling) edge times in simulated ns, since_ns <= t < until_ns."""
        args: dict[str, Any] = {"pin": pin, "since_ns": int(since_ns)}
        if until_ns is not None:
            args["until_ns"] = int(until_ns)
        data = self.request("edges", **args)
        return data["rising"], data["falling"]

    def clear(self, pin: int | None = None) -> None:
        self.request("clear", **({} if pin is None else {"pin": pin}))

    def pins(self) -> list[dict[str, Any]]:
        """Per pin: dir ("in"/"out"), level (0/1), func (GPIO function number), pull."""
        pins: list[dict[str, Any]] = self.request("pins")["pins"]
        return pins

    def set_input(self, pin: int, value: int, at_ns: int | None = None) -> None:
        """Drives an input pin from outside, now or at a simulated time."""
        extra = {} if at_ns is None else {"at_ns": int(at_ns)}
        self.request("set_input", pin=pin, value=int(bool(value)), **extra)

    def set_adc(self, channel: int, raw: int, at_ns: int | None = None) -> None:
        """Sets what ADC channel 0..4 converts to (12-bit raw)."""
        extra = {} if at_ns is None else {"at_ns": int(at_ns)}
        self.request("set_adc", channel=channel, raw=int(raw), **extra)

    def hx711_attach(self, dout: int, sck: int) -> dict[str, Any]:
        """Wires a (new) HX711 model to the pins: DOUT driven by it, PD_SCK watched."""
        return self.request("hx711", dout=dout, sck=sck)

    def hx711(
        self, counts: int | None = None, mode: str | None = None, at_ns: int | None = None
    ) -> dict[str, Any]:
        """Sets what the HX711's next conversions give (signed counts) and its fault mode
        (`ok`, `open`: DOUT stuck high, `saturated`: loadcell.RAW_MAX), now or at a simulated time;
        with neither, just its status (counts, mode, gain, powered, conversions, reads,
        lost, overwritten)."""
        args: dict[str, Any] = {}
        if counts is not None:
            args["counts"] = int(counts)
        if mode is not None:
            args["mode"] = mode
        if at_ns is not None:
            args["at_ns"] = int(at_ns)
        return self.request("hx711", **args)

    def screen(self) -> bytes:
        """What the OLED's glass shows now (host_tools/vboard/ssd1306.mjs): 1024 bytes in
        pump.canvas's page layout, all dark while the panel is off or uninitialised
        (pumphost.screen.write_png makes a PNG of it)."""
        return base64.b64decode(self.request("screen")["screen"])

    def display_status(self) -> dict[str, Any]:
        """The OLED's state: on, charge_pump, inverse, contrast, addressing, answering,
        transfers, bytes, nacked, frames (whole pictures written) and its GDDRAM (`ram`,
        base64)."""
        data = self.request("screen")
        data.pop("screen")
        return data

    def display(
        self, nack: bool | None = None, power_reset: bool = False, at_ns: int | None = None
    ) -> dict[str, Any]:
        """The OLED's faults, now or at a simulated time: nack=True and it stops answering on
        I2C (unplugged: every transfer is NACKed), False and it answers again; power_reset
        puts it back at its power-up state (display off). Returns its status."""
        args: dict[str, Any] = {"power_reset": int(power_reset)}
        if nack is not None:
            args["nack"] = int(bool(nack))
        if at_ns is not None:
            args["at_ns"] = int(at_ns)
        return self.request("display", **args)

    def reset(self) -> None:
        self.request("reset")

    def power_cut(self, at_ns: int | None = None) -> int:
        """Cuts power at a simulated time (default now) and reboots; returns the cut time."""
        extra = {} if at_ns is None else {"at_ns": int(at_ns)}
        return int(self.request("power_cut", **extra)["time_ns"])

    def save_flash(self, path: Path | None = None) -> Path:
        data = self.request("save_flash", **({} if path is None else {"path": str(path)}))
        return Path(data["path"])
