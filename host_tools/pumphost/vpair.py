"""Two virtual Picos wired board to board (host_tools/vboard/pair.mjs): the pump on its real
image and the bench fixture on a plain MicroPython image running hil/fixture/, in one
simulated time base. The bench of hil/fixture/BENCH.md, without the hardware:

    pumpctl vboard pair          # prints the pump's and the fixture's URLs; Ctrl-C ends it
    pytest hil --target serial --port PUMP_URL --rig FIXTURE_URL

The pair runs paced to wall time while a client is connected to either board (the bench
rig keeps the fixture's channel open), like two powered boards on a desk.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType

import click

from pumphost import boards, fixture
from pumphost.paths import CACHE, use_firmware_core
from pumphost.vboard import (
    DEFAULT_BOOTROM,
    DEFAULT_IMAGE,
    VBOARD_DIR,
    VBoardError,
    VirtualBoard,
    _free_port_pair,
    ensure_bridge_deps,
    vboard,
)

use_firmware_core()
from pump import loadcell  # noqa: E402

PAIR = VBOARD_DIR / "pair.mjs"
FIXTURE_IMAGE = CACHE / "images" / "fidelity" / "firmware.bin"  # MicroPython as released
_READY = "vboard: ready "


class VirtualPair:
    """The pump and the fixture; use as a context manager, or call start() and close().

    After start() the fixture runs its firmware (deployed to its flash, as `mpremote cp`
    does on the bench), plays an HX711 at zero force and a seated syringe, and the pump has
    been reset through its RUN pin with those devices in place (as after powering the bench
    up), so both boards are where `pytest --rig FIXTURE_URL` expects them.
    """

    def __init__(
        self,
        image: Path = DEFAULT_IMAGE,
        fixture_image: Path = FIXTURE_IMAGE,
        *,
        flash: Path | None = None,
        fixture_flash: Path | None = None,
        fresh: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        pace: str = "realtime",
        bootrom: Path = DEFAULT_BOOTROM,
        start_timeout: float = 30.0,
        echo_output: bool = False,
    ) -> None:
        self.image = image
        self.fixture_image = fixture_image
        self.flash = flash
        self.fixture_flash = fixture_flash
        self.fresh = fresh
        self.host = host
        self.port = port
        self.fixture_port = 0
        self.pace = pace
        self.bootrom = bootrom
        self.start_timeout = start_timeout
        self.echo_output = echo_output
        self.output: deque[str] = deque(maxlen=200)
        self.ready_line = ""
        self.fixture_banner = ""
        self.proto_port = 0  # the pump's UART1 (the protocol): the bridge takes a free port
        self.pump: VirtualBoard | None = None  # the pump's control channel (--rig virtual)
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The pump's REPL (`--port`)."""
        return f"socket://{self.host}:{self.port}"

    @property
    def fixture_url(self) -> str:
        """The fixture's host channel (`--rig`)."""
        return f"socket://{self.host}:{self.fixture_port}"

    @property
    def proto_url(self) -> str:
        """The pump's UART1, the protocol channel (`--proto`, `pumpctl --port`)."""
        return f"socket://{self.host}:{self.proto_port}"

    def start(self) -> VirtualPair:
        for what, path in (("pump", self.image), ("fixture", self.fixture_image)):
            if not path.exists():
                hint = "make firmware BOARD=vpico" if what == "pump" else "make fidelity-image"
                raise VBoardError(f"no {what} image at {path}: run `{hint}`")
        node = ensure_bridge_deps()
        if self.port == 0:
            self.port = _free_port_pair(self.host)
        if self.fixture_port == 0:
            self.fixture_port = _free_port_pair(self.host)
        cmd = [node, str(PAIR), "--bootrom", str(self.bootrom), "--host", self.host]
        cmd += ["--image", str(self.image), "--fixture-image", str(self.fixture_image)]
        cmd += ["--port", str(self.port), "--fixture-port", str(self.fixture_port)]
        cmd += ["--pace", self.pace, "--proto-port", "0"]
        if self.flash is not None:
            cmd += ["--flash", str(self.flash)]
        if self.fixture_flash is not None:
            cmd += ["--fixture-flash", str(self.fixture_flash)]
        if self.fresh:
            cmd.append("--fresh")
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                self._proc.wait()
                raise VBoardError(self._last_error() or "the pair bridge did not start in time")
        try:
            self.pump = VirtualBoard.attach(self.host, self.port + 1, port=self.port)
            self.fixture_banner = fixture.deploy(self.fixture_url)
            self._bench_power_up()
        except BaseException:
            self.close()
            raise
        return self

    def _bench_power_up(self) -> None:
        """The fixture's resting devices, then the pump reset through RUN, booted."""
        b = boards.load("pico")
        client = fixture.FixtureClient(self.fixture_url)
        try:
            client.hx711(counts=loadcell.DEFAULT_OFFSET)
            client.output("SYR", b.syringe_seated)
            client.reset_pulse(10)
            t0 = client.now()
            while (client.now() - t0) * client.tick_ns < 1_000_000_000:  # the pump boots
                time.sleep(0.05)
        finally:
            client.close()

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if line.startswith(_READY):
                self.ready_line = line
                if " proto=socket://" in line:
                    self.proto_port = int(line.rpartition(":")[2])
                self._ready.set()
            elif self.echo_output and self._ready.is_set():
                print(line, file=sys.stderr, flush=True)

    def _last_error(self) -> str:
        for line in reversed(self.output):
            if line.startswith("vboard: error: "):
                return line.removeprefix("vboard: error: ")
        return self.output[-1] if self.output else ""

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Stops the bridge (saving the --flash files) and waits for it."""
        if self.pump is not None:
            try:
                self.pump.request("quit")
            except (OSError, VBoardError):
                pass
            self.pump.close()
            self.pump = None
        if self._proc is None:
            return
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> VirtualPair:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@vboard.command()
@click.option("--port", type=int, default=0, help="The pump's REPL TCP port (0: a free one).")
@click.option("--image", type=click.Path(path_type=Path), default=DEFAULT_IMAGE, show_default=True)
@click.option(
    "--fixture-image",
    type=click.Path(path_type=Path),
    default=FIXTURE_IMAGE,
    show_default=True,
    help="A plain MicroPython image with its REPL on UART1 (make fidelity-image).",
)
@click.option("--pace", type=click.Choice(["realtime", "max"]), default="realtime")
def pair(port: int, image: Path, fixture_image: Path, pace: str) -> None:
    """Run the pump and the bench fixture, wired, until Ctrl-C."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    p = VirtualPair(image, fixture_image, port=port, pace=pace, echo_output=True)
    try:
        p.start()
    except (VBoardError, fixture.FixtureError) as err:
        click.echo(f"vboard: {err}", err=True)
        sys.exit(2)
    try:
        click.echo(f"pump:    {p.url} (--port)")
        click.echo(f"fixture: {p.fixture_url} (--rig)")
        click.echo(f"protocol: {p.proto_url} (--proto, pumpctl --port)")
        click.echo(f"pump control: {p.host}:{p.port + 1} (--rig virtual); Ctrl-C stops", err=True)
        click.echo(f"{p.fixture_banner}", err=True)
        while not stop.wait(0.2):
            if not p.alive:
                click.echo(f"vboard: the pair bridge stopped: {p._last_error()}", err=True)
                sys.exit(2)
    finally:
        p.close()
