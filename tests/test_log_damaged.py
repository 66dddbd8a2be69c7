"""Damaged pulled logs: garbage appended, two files joined, a seq rewritten under a re-sealed
footer, the magic alone. Every path that reads a .plog (verify, export, report, pull's
resume; the review service's upload in tests/review) refuses them in one line naming the
reason and the seq, in bounded memory (the CLI runs under a few hundred MB of address
space), and gaps are counted as runs whatever the seqs. A tampered log that is not refused
is exported with a warning saying what was left out. Then the same readers fuzzed with
random and mutated files (`make fuzz` runs the long version: pumphost.logs.filefuzz)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pump import logrec
from pumphost.logs import filefuzz, plogfile, synth
from pumphost.logs.verify import verify

ENTRY = plogfile.ENTRY
MEMORY = 400 * 2**20  # address space of the CLI under test: numpy and matplotlib fit in it
GOOD = filefuzz.sealed(synth.octreotide(3000))
DAMAGED = filefuzz.damaged(GOOD)


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def pumpctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """pumpctl in a process of its own, its address space capped: a runaway allocation is a
    MemoryError there, not the machine's memory."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, env=env, preexec_fn=_limited,
    )  # fmt: skip


def _refused(r: subprocess.CompletedProcess[str], code: int, *want: str) -> None:
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    lines = [x for x in r.stderr.strip().splitlines() if x != "pulling"]  # pull's progress bar
    assert len(lines) == 1, r.stderr
    for w in want:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("cmd", ["verify", "export", "report"])
@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_a_damaged_log_is_refused_in_one_line_in_bounded_memory(
    kind: str, cmd: str, tmp_path: Path
) -> None:
    raw, why = DAMAGED[kind]
    p = tmp_path / f"{kind}.plog"
    p.write_bytes(raw)
    out = tmp_path / "out"
    args = {"verify": [], "export": ["-o", str(out)], "report": ["-o", str(out)]}[cmd]
    t = time.monotonic()
    r = pumpctl("logs", cmd, str(p), *args)
    assert time.monotonic() - t < 60
    _refused(r, 2, f"logs: {p}: ", why, "refused")
    if kind != "magic":  # the seq where it went wrong, and the byte
        assert "seq " in r.stderr and "(byte " in r.stderr, r.stderr
    assert not out.exists()  # nothing written from a refused file


def test_pull_does_not_resume_into_a_damaged_file(tmp_path: Path) -> None:
    from test_log_pull import Board  # the pump protocol's handler on the firmware's log ring

    board = Board()
    board.add(30)
    try:
        for kind, (raw, why) in DAMAGED.items():
            p = tmp_path / f"{kind}.plog"
            p.write_bytes(raw)
            r = pumpctl("logs", "pull", "--via", "protocol", "--port", board.url, "-o", str(p))
            _refused(r, 1, f"logs pull: {p}: ", why)
            assert p.read_bytes() == raw, kind  # not appended to, not rewritten
            assert not [q for q in tmp_path.iterdir() if q.name.startswith(p.name + ".")]
    finally:
        board.close()


def test_append_never_writes_what_the_reader_refuses(tmp_path: Path) -> None:
    p = tmp_path / "a.plog"
    ents = synth.octreotide(300)
    plogfile.write(p, ents[: 200 * ENTRY])
    before = p.read_bytes()
    far = bytearray(ents[200 * ENTRY : 201 * ENTRY])
    far[3] = 0x40  # a device answering a seq 2^30 on
    with pytest.raises(plogfile.PlogError, match="seq 1073742024 follows seq 199"):
        plogfile.append(p, bytes(far))
    assert p.read_bytes() == before
    assert plogfile.append(p, ents) == 100  # the same file still takes the right entries


def test_gaps_are_runs_whatever_the_seqs() -> None:
    """verify counts missing seqs as runs: gaps of 2^24 and of 2^32 cost what one seq does."""
    ents = bytearray(synth.octreotide(400))
    for i in range(300, 400):  # the seqs of the last 100 entries moved far on (their CRCs fail)
        s = int.from_bytes(ents[i * ENTRY : i * ENTRY + 4], "little") + 4_000_000_000 - 300
        ents[i * ENTRY : i * ENTRY + 4] = s.to_bytes(4, "little")
    t = time.monotonic()
    with filefuzz.memory_limit(64):
        res = verify(bytes(ents))
    assert time.monotonic() - t < 5
    assert not res.ok and res.damaged.count == 100
    assert any("seq 300..4000000099 after the last anchor" in e for e in res.errors), res.errors
    # a jump the reader takes (2^24 exactly): reported as one run, not refused
    ents = bytearray(synth.octreotide(400))
    for i in range(300, 400):
        seq = (1 << 24) + i - 1
        code, x, a, b = logrec.unpack(ents, i * ENTRY + 4)
        ents[i * ENTRY : i * ENTRY + 4] = seq.to_bytes(4, "little")
        logrec.pack(ents, i * ENTRY + 4, bytearray(12), seq, code, x, a, b)
    log = plogfile.parse(filefuzz.sealed(bytes(ents)), "gap.plog")
    with filefuzz.memory_limit(64):
        res = verify(log.data, None, log.problems)
    assert res.intact == 400
    assert res.errors == ["seq 300..16777514 after the last anchor: missing or damaged"]


def test_export_of_a_tampered_log_warns_what_it_left_out(tmp_path: Path) -> None:
    ents = bytearray(synth.octreotide(1000))
    ents[500 * ENTRY + 9] ^= 0x10  # a changed record: its CRC fails
    ents[700 * ENTRY : 700 * ENTRY] = ents[650 * ENTRY : 651 * ENTRY]  # seq 650 again
    p = tmp_path / "t.plog"
    plogfile.write(p, bytes(ents))
    r = pumpctl("logs", "export", str(p))
    assert r.returncode == 0, r.stderr
    seqs = [int(line.split(",")[0]) for line in r.stdout.splitlines()[1:]]
    assert 500 not in seqs and seqs == sorted(set(seqs)) and len(seqs) > 900
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for want in ("WARNING", "NOT VERIFIED", "left out", "1 damaged record", "seq 500",
                 "1 entry out of order or repeated (seq 650)"):  # fmt: skip
        assert want in lines[0], lines[0]
    plogfile.write(p, synth.octreotide(1000))
    r = pumpctl("logs", "export", str(p), "--format", "jsonl")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # a clean log: nothing to say


# --- fuzz: every reader, random and mutated files ----------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _warm() -> Iterator[None]:
    filefuzz.bases()
    assert filefuzz.check(GOOD) == []  # imports and caches, outside the memory limit
    yield


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(sorted(filefuzz.MUTATIONS)), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=4,
    ),
    base=st.integers(0, len(filefuzz.bases()) - 1),
    keyed=st.booleans(),
)
def test_every_reader_takes_any_mutated_log(
    ops: list[tuple[str, int]], base: int, keyed: bool
) -> None:
    raw = filefuzz.case(ops, base)
    assert filefuzz.checked(raw, filefuzz.KEY if keyed else None) == []


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    head=st.sampled_from([b"", plogfile.MAGIC, plogfile.header()]),
    body=st.binary(max_size=400),
    seal=st.booleans(),
)
def test_every_reader_takes_random_bytes(head: bytes, body: bytes, seal: bool) -> None:
    raw = filefuzz.sealed(body) if seal else head + body
    assert filefuzz.checked(raw) == []


def test_the_long_fuzz_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert filefuzz.main(["20", "1"]) == 0  # seeds with no report page (make fuzz has them)
    assert "20 through every reader of a .plog" in capsys.readouterr().out
