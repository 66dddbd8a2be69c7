"""NOR flash with the semantics of the Pico's W25Q16JV, for the firmware's log ring on the host.

Erase sets a 4 KB sector to 0xFF; programming only clears bits (new = old AND data); a power
cut can land on any byte of a program or an erase. Backed by a bytearray or, with `path`, by
a file (memory-mapped), so a log written by `pumpctl sim` or a test stays on disk.

Tearing models at the cut (`tear`):
  "prefix": the bytes before the cut are done, the rest untouched (a byte-serial write);
  "noisy":  the bytes before the cut are done, every bit the operation would change in the
            rest may or may not have changed (cells part-way programmed or erased);
  "backward": as "prefix", but an erase works from the end of the sector to its start
            (nothing says in which order a chip erases: the header may outlive its records).
"""

from __future__ import annotations

import mmap
import random
from pathlib import Path

SECTOR = 4096
PAGE = 256


class PowerCut(Exception):
    """The power went at the byte the cut was set for."""


class NorFlash:
    def __init__(
        self,
        size: int,
        path: Path | str | None = None,
        tear: str = "prefix",
        rng: random.Random | None = None,
    ) -> None:
        if size % SECTOR:
            raise ValueError("size must be whole 4 KB sectors")
        self.size = size
        self.tear = tear
        self.rng = rng or random.Random(0)
        self._file = None
        if path is None:
            self.mem: bytearray | mmap.mmap = bytearray(b"\xff" * size)
        else:
            p = Path(path)
            if not p.exists() or p.stat().st_size != size:
                p.write_bytes(b"\xff" * size)
            self._file = open(p, "r+b")  # noqa: SIM115 - kept open for the mapping
            self.mem = mmap.mmap(self._file.fileno(), size)
        self.cut_at: int | None = None  # bytes of program/erase left before the power goes
        self.bytes_done = 0  # program + erase bytes so far (cut positions are counted here)
        self.erases = [0] * (size // SECTOR)
        self.programs = 0

    def close(self) -> None:
        if self._file is not None:
            assert isinstance(self.mem, mmap.mmap)
            self.mem.flush()
            self.mem.close()
            self._file.close()
            self._file = None

    # --- the interface pump.logring uses ---

    def readinto(self, off: int, buf) -> None:  # noqa: ANN001 - any writable buffer
        n = len(buf)
        if off < 0 or off + n > self.size:
            raise ValueError(f"read outside the flash: {off}+{n}")
        buf[:] = self.mem[off : off + n]

    def program(self, off: int, buf) -> None:  # noqa: ANN001
        n = len(buf)
        if off % PAGE or n % PAGE or off + n > self.size:
            raise ValueError(f"program must be whole pages: {off}+{n}")
        self.programs += 1
        old = self.mem[off : off + n]
        new = (int.from_bytes(old, "little") & int.from_bytes(bytes(buf), "little")).to_bytes(
            n, "little"
        )
        self._apply(off, old, new)

    def erase(self, off: int) -> None:
        if off % SECTOR or off + SECTOR > self.size:
            raise ValueError(f"erase must be a whole sector: {off}")
        self.erases[off // SECTOR] += 1
        old = self.mem[off : off + SECTOR]
        if self.tear != "backward":
            self._apply(off, old, b"\xff" * SECTOR)
            return
        self._apply_reversed(off)

    def _apply_reversed(self, off: int) -> None:
        left = None if self.cut_at is None else self.cut_at - self.bytes_done
        if left is None or left >= SECTOR:
            self.mem[off : off + SECTOR] = b"\xff" * SECTOR
            self.bytes_done += SECTOR
            return
        k = max(left, 0)
        self.mem[off + SECTOR - k : off + SECTOR] = b"\xff" * k
        self.bytes_done += k
        self.cut_at = None
        raise PowerCut(f"power cut after {self.bytes_done} bytes")

    # --- power ---

    def _apply(self, off: int, old: bytes, new: bytes) -> None:
        n = len(new)
        left = None if self.cut_at is None else self.cut_at - self.bytes_done
        if left is None or left >= n:
            self.mem[off : off + n] = new
            self.bytes_done += n
            return
        k = max(left, 0)
        self.mem[off : off + k] = new[:k]
        if self.tear == "noisy":
            # Each bit the operation would change in the rest may or may not have changed.
            rest_old = int.from_bytes(old[k:], "little")
            rest_new = int.from_bytes(new[k:], "little")
            changing = rest_old ^ rest_new
            took = changing & self.rng.getrandbits(8 * (n - k))
            self.mem[off + k : off + n] = (rest_old ^ took).to_bytes(n - k, "little")
        self.bytes_done += k
        self.cut_at = None
        raise PowerCut(f"power cut after {self.bytes_done} bytes")
