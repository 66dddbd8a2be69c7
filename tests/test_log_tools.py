"""pumpctl logs verify|export|report on logs the firmware's own ring wrote on the NOR
emulation (and, for size, through the codec), and the tampering verify must catch."""

from __future__ import annotations

import json
import random
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from pump import events, logrec
from pump.logring import LogRing
from pumphost.cli import cli
from pumphost.logs import plogfile, report, synth
from pumphost.logs.nor import SECTOR, NorFlash, PowerCut
from pumphost.logs.verify import verify
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator

KEY = b"provisioned key 42"
SCENARIOS = Path(__file__).resolve().parents[1] / "host_tools" / "scenarios"
MIN = 60_000_000  # us


def _day(flash: NorFlash, key: bytes | None = None, cut: int | None = None) -> LogRing:
    """An octreotide morning through the firmware's ring: load, program, start, a delivered
    record a minute, a titration, an alarm, a clock set; a power cut and a reboot."""
    ring = LogRing(flash, key=key, seal_every=16)
    t = 0
    ring.add(t, events.BOOT, events.CAUSE_POWER_ON, -1)
    ring.set_utc(1_780_000_000)
    ring.add(t, events.LOAD, events.SYRINGES["bd-plastipak-10ml"], 10_000_000)
    ring.add(t, events.PROGRAM, 1632, 500)
    ring.add(t, events.RATE, 136000, 1)
    ring.add(t, events.START)
    for m in range(1, 300):
        t += MIN
        ring.service(t)
        ring.add(t, events.DELIVERED, m * 2266, m * 2266 * 1000 // 41280)
        if m == 120:
            ring.add(t, events.PROGRAM, 2167, 500)
            ring.add(t, events.RATE, 180583, 1)
        if m == 200:
            ring.add(t, events.ALARM, 7, events.ALARM_RAISED)
            ring.add(t, events.ALARM, 7, events.ALARM_ACKNOWLEDGED)
    flash.cut_at = None if cut is None else flash.bytes_done + cut  # into the next write
    try:
        ring.add(t, events.PAUSE)
        assert cut is None, f"the power lasted {cut} bytes into the pause's write"
    except PowerCut:
        pass
    ring = LogRing(flash, key=key, seal_every=16)  # the reboot
    ring.add(0, events.BOOT, events.CAUSE_POWER_ON, -1)
    return ring


def _pulled(ring: LogRing) -> bytes:
    out = bytearray()
    seq = 0
    while page := ring.read(seq, 128):
        out += page
        seq = int.from_bytes(page[-20:-16], "little") + 1
    return bytes(out)


@pytest.fixture
def plog(tmp_path: Path) -> Path:
    flash = NorFlash(8 * SECTOR, path=tmp_path / "flash.bin")
    ring = _day(flash, KEY)
    p = tmp_path / "day.plog"
    plogfile.write(p, _pulled(ring))
    flash.close()
    return p


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


def test_a_clean_log_verifies_with_its_key(plog: Path) -> None:
    code, out = _run("logs", "verify", str(plog), "--key", KEY.hex())
    assert code == 0, out
    assert "verified: clean" in out and "HMAC seals checked" in out
    assert int(out.split(" HMAC")[0].split()[-1]) >= 10


def test_a_power_cut_mid_write_is_explained_not_an_error() -> None:
    for cut in (0, 3, 100, 200, 255):  # bytes into the page program of the pause
        ring = _day(NorFlash(8 * SECTOR), cut=cut)
        res = verify(_pulled(ring))
        assert res.ok, (cut, res.errors)
        assert any("burned by the device" in n for n in res.notes), res.notes
        assert "pause" not in [r[2] for r in ring.records(5)] or cut > 200


def _entries(p: Path) -> bytearray:
    return bytearray(plogfile.read(p).data)


def _save(tmp_path: Path, data: bytes, name: str) -> Path:
    p = tmp_path / name
    plogfile.write(p, bytes(data))
    return p


@pytest.mark.parametrize("tamper", ["flip", "delete", "swap", "swap_bodies", "insert_copy"])
def test_tampering_is_caught(plog: Path, tmp_path: Path, tamper: str) -> None:
    e = _entries(plog)
    n = len(e) // 20
    i = random.Random(tamper).randrange(10, n - 10) * 20
    if tamper == "flip":
        e[i + 9] ^= 0x10
    elif tamper == "delete":
        del e[i : i + 20]
    elif tamper == "swap":
        e[i : i + 40] = e[i + 20 : i + 40] + e[i : i + 20]
    elif tamper == "swap_bodies":
        e[i + 4 : i + 20], e[i + 24 : i + 40] = e[i + 24 : i + 40], e[i + 4 : i + 20]
    else:
        e[i + 20 : i + 20] = e[i : i + 20]
    code, out = _run("logs", "verify", str(_save(tmp_path, e, "t.plog")))
    assert code == 1, out
    assert "ERROR" in out and "seq" in out


def test_a_truncated_file_is_caught(plog: Path, tmp_path: Path) -> None:
    raw = plog.read_bytes()
    for cut in (len(raw) - 16, len(raw) - 30, len(raw) // 2):
        p = tmp_path / f"cut{cut}.plog"
        p.write_bytes(raw[:cut])
        code, out = _run("logs", "verify", str(p))
        assert code == 1 and "cut short" in out, out


def test_an_altered_record_with_a_fixed_crc_is_caught_only_by_the_hmac(
    plog: Path, tmp_path: Path
) -> None:
    e = _entries(plog)
    for off in range(0, len(e), 20):
        seq = int.from_bytes(e[off : off + 4], "little")
        code, x, a, b = logrec.unpack(e, off + 4)
        if code == events.DELIVERED and a > 100 * 2266:  # lower one delivered volume
            logrec.pack(e, off + 4, bytearray(12), seq, code, x, a - 1000, b)
            break
    p = _save(tmp_path, e, "forged.plog")
    assert _run("logs", "verify", str(p))[0] == 0  # CRCs alone cannot see a forger
    code, out = _run("logs", "verify", str(p), "--key", KEY.hex())
    assert code == 1 and "does not match" in out, out
    assert _run("logs", "verify", str(p), "--key", b"wrong".hex())[0] == 1


def test_export_csv_and_jsonl(plog: Path, tmp_path: Path) -> None:
    code, out = _run("logs", "export", str(plog), "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "seq,utc,boot,uptime_s,event,code,a,b"
    assert sum(1 for x in lines if ",delivered," in x) == 299
    assert any(",2026-" in x for x in lines)  # UTC once the clock was set
    code, out = _run("logs", "export", str(plog), "--format", "jsonl")
    recs = [json.loads(x) for x in out.splitlines()]
    assert [r["event"] for r in recs[:3]] == ["boot", "clock", "load"]
    assert recs[1]["a"] == -1 and recs[1]["b"] == 1_780_000_000 - logrec.LOG_EPOCH
    assert recs[-1]["event"] == "boot" and recs[-1]["boot"] == 2


def test_report_is_one_page_with_its_plots(plog: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, text = _run("logs", "report", str(plog), "-o", str(out), "--drug", "octreotide")
    assert code == 0, text
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 4
    for want in ("BD Plastipak 10 mL", "octreotide", "1632 µg/24 h at 500 µg/mL", "2167", "UTC"):
        assert want in page or want.lower().replace(" ", "-") in page, want
    assert "http" not in page.replace("http-equiv", "")  # nothing to fetch


class _Page(HTMLParser):
    """The report's visible text, by element id (the text under each element with an id)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.text: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title"):
            self._skip += 1
        if tag not in ("img", "meta", "br"):
            self._open.append((tag, dict(attrs).get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        for _, i in self._open:
            if i is not None:
                self.ids[i] = self.ids.get(i, "") + data


def _page(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text())
    return p


def test_report_banner_for_a_log_that_fails_verification_and_none_for_a_clean_one(
    plog: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.html"
    assert _run("logs", "report", str(plog), "-o", str(clean), "--key", KEY.hex())[0] == 0
    page = _page(clean)
    assert "not-verified" not in page.ids and "NOT VERIFIED" not in "".join(page.text)
    assert page.ids["verify"].endswith("clean")
    # a forged record (its CRC fixed: only the key sees it), and a deleted one (no key)
    e = _entries(plog)
    for off in range(0, len(e), 20):
        seq = int.from_bytes(e[off : off + 4], "little")
        code, x, a, b = logrec.unpack(e, off + 4)
        if code == events.DELIVERED and a > 100 * 2266:
            logrec.pack(e, off + 4, bytearray(12), seq, code, x, a - 1000, b)
            break
    forged = _save(tmp_path, e, "forged.plog")
    gone = _entries(plog)
    del gone[200 * 20 : 201 * 20]
    cut = _save(tmp_path, gone, "gone.plog")
    for src, key, why in ((forged, ["--key", KEY.hex()], "does not match"), (cut, [], "missing")):
        out = tmp_path / f"{src.stem}.html"
        code, text = _run("logs", "report", str(src), "-o", str(out), *key)
        assert code == 0, text
        page = _page(out)
        banner = page.ids["not-verified"]  # a banner, before anything else on the page
        assert "".join(page.text).lstrip().startswith("NOT VERIFIED"), page.text[:3]
        assert why in banner, banner  # it says what failed
        assert "NOT VERIFIED" in out.read_text().split("<title>")[1].split("</title>")[0]
    # every plot carries the stamp too (whoever copies one out of the page)
    figs = report.figures(report.decode(_entries(forged)), unverified=True)
    assert all(any(t.get_text() == "NOT VERIFIED" for t in f.texts) for _, f in figs)
    figs = report.figures(report.decode(_entries(plog)))
    assert not any(t.get_text() == "NOT VERIFIED" for _, f in figs for t in f.texts)


def test_the_24h_report_has_totals_full_axes_and_one_unit(tmp_path: Path) -> None:
    # The demo's day (make demo): 1,632 µg/24 h at 500 µg/mL for 24 h on the emulator.
    emu = Emulator(scenario.load(SCENARIOS / "octreotide-24h.toml"), log=True)
    res = emu.run()
    p = tmp_path / "pump.plog"
    emu.save_log(p)
    out = tmp_path / "report.html"
    assert _run("logs", "report", str(p), "-o", str(out))[0] == 0
    page = _page(out)
    text = "".join(page.text)
    # µg only: no "ug" anywhere a reader sees
    assert not re.search(r"\bug\b", text), re.findall(r".{20}\bug\b.{20}", text)
    assert "µg" in text
    # the totals: delivered (the log's last count) and programmed, in µg and mL
    delivered_ug = float(res.delivered_nl) * 500 / 1e6
    got = float(page.ids["delivered"].split(" µg")[0].replace(",", ""))
    assert abs(got - delivered_ug) < 0.5, (got, delivered_ug)  # the last minute's record
    assert page.ids["programmed"].startswith("1,632.0 µg (3.264 mL)")
    day = page.ids["per-24h"]
    assert "0-24 h" in day and day.count("µg") == 2 and "1,632.0 µg" in day
    # the plots, from the figures the page embeds: each spans the whole day...
    d = report.decode(plogfile.read(p).data)
    figs = dict(report.figures(d))
    assert list(figs) == ["Delivered", "Dose", "Rate", "Alarms"]
    for name, fig in figs.items():
        assert fig.axes[0].get_xlim() == pytest.approx((0, 24)), name  # alarms: not 0-1 h
    # ...and the µg per 24 h axis holds the day's delivered total, inside its limits
    ax, ax2 = figs["Dose"].axes
    assert ax2.get_ylabel() == "µg per 24 h" and ax.get_ylabel() == "µg per hour"
    shown = [v for a in ax2.patches for v in a.get_data()[0]]
    shown += [v for ln in ax2.lines for v in ln.get_ydata()]
    assert shown and all(0 < v < ax2.get_ylim()[1] for v in shown), shown
    assert any(abs(v - got) < 0.05 for v in shown), shown
    # per hour: 68 µg, every hour the same (the first too), programmed alike
    hourly = [v for a in ax.patches for v in a.get_data()[0]]
    assert len(hourly) == 48 and all(abs(v - 68) < 0.2 for v in hourly), hourly
    assert ax2.get_ylim()[1] == pytest.approx(24 * ax.get_ylim()[1])


def test_report_totals_hold_across_boluses_and_a_clock_change(tmp_path: Path) -> None:
    # The protocol's 72 h: two boluses (logged as the boosted rate and a BOLUS record) and the
    # clock set an hour forward at 30 h. Programmed counts each bolus once and not the hour
    # the clock skipped: it equals what the pump delivered, in all and per 24 h.
    emu = Emulator(scenario.load(SCENARIOS / "octreotide-titration-protocol.toml"), log=True)
    res = emu.run()
    p = tmp_path / "proto.plog"
    emu.save_log(p)
    tot = report.totals(report.decode(plogfile.read(p).data))
    step = float(res.nl_per_step)
    assert abs(tot.delivered_nl() - float(res.delivered_nl)) < 60 * 40 * step  # last minute
    assert abs(tot.programmed_nl() - tot.delivered_nl()) < 2 * step
    days = report._day_rows(tot)
    assert len(days) == 4 and days[-1][0].endswith("(1.00 h only)")
    for period, dl, pr in days:
        assert dl == pr, (period, dl, pr)


def test_report_programmed_after_a_bolus_cut_short_by_a_pause(tmp_path: Path) -> None:
    # A pause 3 min into a 6 min bolus ends it; the resume goes on at the program's rate (a
    # RATE record after the PAUSE says so). Programmed is what the emulator's oracle
    # integrated (the bolus's 3 min and the basal while running), not 1 mL/h from the resume.
    emu = Emulator(scenario.load(SCENARIOS / "octreotide-bolus-paused.toml"), log=True)
    res = emu.run()
    p = tmp_path / "paused.plog"
    emu.save_log(p)
    tot = report.totals(report.decode(plogfile.read(p).data))
    step = float(res.nl_per_step)
    assert abs(tot.programmed_nl() - float(res.programmed_nl)) < 1  # 464.8 uL
    assert abs(tot.programmed_nl() - tot.delivered_nl()) < 2 * step


def test_report_on_a_log_with_no_delivered_record_yet() -> None:
    # Pulled just after the load and program: no DELIVERED record yet, nothing delivered.
    e = synth.octreotide(50)
    for n in (0, 1, 3, 5):
        page = report.build(e[: 20 * n], "p", "d", "clean")
        assert "Pump log report" in page


def test_report_on_a_synthetic_week(tmp_path: Path) -> None:
    p = _save(tmp_path, synth.octreotide(12000), "week.plog")
    assert _run("logs", "verify", str(p))[0] == 0
    out = tmp_path / "w.html"
    assert _run("logs", "report", str(p), "-o", str(out))[0] == 0
    assert out.stat().st_size > 20_000


def test_append_keeps_only_new_records_and_refuses_a_broken_file(tmp_path: Path) -> None:
    ents = synth.octreotide(500)
    p = tmp_path / "a.plog"
    assert plogfile.append(p, ents[: 300 * 20]) == 300
    assert plogfile.append(p, ents[: 400 * 20]) == 100  # a re-pull overlaps: deduplicated
    assert plogfile.append(p, ents) == 100
    assert plogfile.read(p).data == ents
    raw = p.read_bytes()
    p.write_bytes(raw[:-1])
    with pytest.raises(plogfile.PlogError):
        plogfile.append(p, ents)
    foot = raw[-16:]
    assert struct.unpack("<II", foot[4:12]) == (500, 499)
    assert struct.unpack("<I", foot[12:])[0] == zlib.crc32(raw[:-16])


def test_the_file_backed_flash_keeps_the_log(tmp_path: Path) -> None:
    f = NorFlash(4 * SECTOR, path=tmp_path / "f.bin")
    ring = LogRing(f)
    for i in range(100):
        ring.add(0, events.DELIVERED, i, i)
    f.close()
    f = NorFlash(4 * SECTOR, path=tmp_path / "f.bin")
    rows = [r for r in LogRing(f).records(200) if r[2] == "delivered"]
    assert [r[3] for r in rows] == list(range(100))
    f.close()
