"""Two virtual Picos wired board to board (host_tools/vboard/pair.mjs): the pump on its real
image and the bench fixture on a plain MicroPython image running hil/fixture/, in one
simulated time base. The bench of hil/fixture/BENCH.md, without the hardware:

    pumpctl vboard pair          # prints the pump's and the fixture's URLs; Ctrl-C ends it
    pytest hil --target serial --port PUMP_URL --rig FIXTURE_URL

The pair runs paced to wall time while a client is connected to either board (the bench
rig keeps the fixture's channel open), like two powered boards on a desk.
"""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import ClassVar, Self

from pump import loadcell
from pumphost import boards
from pumphost.fixture import client as fixture
from pumphost.paths import CACHE
from pumphost.vboard.virtual import (
    DEFAULT_IMAGE,
    VBOARD_DIR,
    NodeBridge,
    VBoardError,
    VirtualBoard,
    free_port_pair,
)

PAIR = VBOARD_DIR / "pair.mjs"
FIXTURE_IMAGE = CACHE / "images" / "fidelity" / "firmware.bin"  # MicroPython as released


@dataclass(eq=False)
class VirtualPair(NodeBridge):
    """The pump and the fixture; use as a context manager, or call start() and close().

    After start() the fixture runs its firmware (deployed to its flash, as `mpremote cp`
    does on the bench), plays an HX711 at zero force and a seated syringe, and the pump has
    been reset through its RUN pin with those devices in place (as after powering the bench
    up), so both boards are where `pytest --rig FIXTURE_URL` expects them.
    """

    script: ClassVar[Path] = PAIR
    what: ClassVar[str] = "the pair bridge"

    image: Path = DEFAULT_IMAGE
    fixture_image: Path = FIXTURE_IMAGE
    _: KW_ONLY
    fixture_flash: Path | None = None
    fresh: bool = True
    port: int = 0
    pace: str = "realtime"
    proto_port: int | None = field(default=0, init=False)  # the bridge takes a free port

    def __post_init__(self) -> None:
        super().__post_init__()
        self.fixture_port = 0
        self.fixture_banner = ""
        self.pump: VirtualBoard | None = None  # the pump's control channel (--rig virtual)

    @property
    def fixture_url(self) -> str:
        """The fixture's host channel (`--rig`)."""
        return f"socket://{self.host}:{self.fixture_port}"

    @property
    def proto_url(self) -> str:
        """The pump's UART1, the protocol channel (`--proto`, `pumpctl --port`)."""
        return f"socket://{self.host}:{self.proto_port}"

    def start(self) -> Self:
        for what, path in (("pump", self.image), ("fixture", self.fixture_image)):
            if not path.exists():
                hint = "make firmware BOARD=vpico" if what == "pump" else "make fidelity-image"
                raise VBoardError(f"no {what} image at {path}: run `{hint}`")
        if self.port == 0:
            self.port = free_port_pair(self.host)
        if self.fixture_port == 0:
            self.fixture_port = free_port_pair(self.host)
        args = ["--fixture-image", str(self.fixture_image), "--pace", self.pace]
        args += ["--fixture-port", str(self.fixture_port), "--proto-port", "0"]
        if self.fixture_flash is not None:
            args += ["--fixture-flash", str(self.fixture_flash)]
        self._launch(args)
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

    def close(self) -> None:
        """Stops the bridge (saving the --flash files) and waits for it."""
        if self.pump is not None:
            self.pump.quit()
            self.pump.close()
            self.pump = None
        self._end()
