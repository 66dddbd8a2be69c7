"""`pumpctl sim SCENARIO`: a scenario on the emulator, summarised."""

import dataclasses
import json
import sys
from pathlib import Path

import click

from pump.controller import TransitionError
from pump.rate import ml_per_h_str
from pumphost.sim.emulator import Emulator, Result
from pumphost.sim.scenario import ScenarioError, load, pump_serial

_LONG_RUN_US = 3_600_000_000  # show a progress bar beyond one simulated hour


def _fail(msg: str) -> None:
    click.echo(f"pumpctl: {msg}", err=True)
    sys.exit(2)


def _check_writable(path: Path) -> None:
    """Refuse a log path that cannot be written now, not after a run of hours: open it for
    appending (which changes nothing in a file already there), remove it if it was new."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as e:
        _fail(f"--log {path}: {e.strerror}")
    if not existed:
        path.unlink()


def _hm(us: int) -> str:
    return f"{us // 3_600_000_000} h {us // 60_000_000 % 60:02d} min"


def _alarms(res: Result) -> str:
    if not res.alarms:
        return "none"
    parts = []
    for a in res.alarms:
        raised, cleared = a["raised_s"], a["cleared_s"]
        text = f"{a['kind']} ({a['priority']}) at {_hm(int(float(raised) * 1e6))}"  # type: ignore[arg-type]
        if cleared is not None:
            text += f", cleared at {_hm(int(float(cleared) * 1e6))}"  # type: ignore[arg-type]
        parts.append(text)
    line = "; ".join(parts)
    if res.backoff_ul is not None:
        line += f"\nback-off     {res.backoff_ul:.2f} µL drawn back after the occlusion alarm"
    b = res.released_bolus_ul
    if b is not None and b >= 0:
        line += f"\nbolus        {b:.2f} µL released into the line when it opened"
    elif b is not None:  # the back-off left the syringe below the patient's pressure
        line += (
            f"\nbolus        none: {-b:.2f} µL flowed back from the line into the syringe when "
            "it opened (the back-off had left it below the patient's pressure)"
        )
    return line


_PRIORITY = {0: "none", 1: "low", 2: "medium", 3: "high"}


def _signal(res: Result) -> str:
    """The buzzer and LED the board would play (pump.signals): each change after boot."""
    parts = [
        f"at {_hm(int(t * 1e6))} sound {_PRIORITY[s]}, light {_PRIORITY[lt]}"
        for t, s, lt in res.signal[1:]
    ]
    if len(parts) > 6:
        parts = [*parts[:5], f"... ({len(parts) - 6} more)", parts[-1]]
    return "; ".join(parts) or "quiet and dark all along"


def _commands(emu: Emulator) -> list[str]:
    """The script's line in the summary, and each command refused or not as it expects."""
    if not emu.sc.commands:
        return []
    names = {c.key: c.name for c in emu.sc.commands}
    refused, unexpected = emu.commands_refused(), emu.commands_unexpected()
    lines = [
        f"commands     {len(emu.sc.commands)} sent, {len(refused)} refused, "
        f"{len(unexpected)} not as the script expects"
    ]
    for d in sorted(refused + [d for d in unexpected if d["code"] is None], key=_key_index):
        head = f"  {names[str(d['command'])]}: {d['cmd']}"
        if d["code"] is None:
            lines.append(f"{head} accepted, but the script expects {d['expect']}")
        else:
            mark = " (expected)" if d["expected"] else ""
            lines.append(f"{head} refused: {d['code']}: {d['reason']}{mark}")
    return lines


def _key_index(d: dict[str, object]) -> int:
    return int(str(d["command"]).removeprefix("command[").rstrip("]"))


def _summary(res: Result, emu: Emulator) -> str:
    sc = emu.sc
    skipped = {ev.index: f": not applied, {why}" for ev, why in emu.not_applied}
    steps_err = res.programmed_nl / res.nl_per_step - res.steps
    lines = [
        f"scenario     {res.scenario}",
        f"syringe      {emu.syringe.label}, {sc.fill_nl / 1e6:g} mL loaded, "
        f"{float(res.nl_per_step):.3f} nL per microstep",
        f"program      {sc.program_text}"
        + (f" = {ml_per_h_str(*sc.rate)} mL/h" if sc.rate else ""),
        *(f"  at {_hm(ev.at_us)}: {ev.text}{skipped.get(ev.index, '')}" for ev in sc.events),
        *_commands(emu),
        f"simulated    {res.duration_s / 3600:g} h",
        f"programmed   {float(res.programmed_nl) / 1000:.3f} µL",
        f"delivered    {float(res.delivered_nl) / 1000:.3f} µL in {res.steps} microsteps "
        f"(behind the program by {float(steps_err):.3f} of a step)",
        f"remaining    {float(res.remaining_nl) / 1000:.3f} µL, "
        f"plunger moved {res.plunger_mm:.3f} mm",
        f"state        {res.state}",
        f"alarms       {_alarms(res)}",
        f"buzzer, LED  {_signal(res)}",
        f"log records  {res.log_records}",
    ]
    return "\n".join(lines)


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option(
    "--log",
    "log_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the pump's dose and event log (.plog), as `logs pull` gets it.",
)
@click.option(
    "--serial", default=None, help="The pump's serial (else pump.serial): its log names it."
)
@click.option(
    "--screens",
    "screens",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write PNGs of the bedside screen into this directory: after each [[press]], at "
    "each new alarm, and at the end.",
)
def sim(
    scenario: Path, as_json: bool, log_path: Path | None, serial: str | None, screens: Path | None
) -> None:
    """Run SCENARIO.toml on the emulator and summarise the delivery."""
    try:
        sc = load(scenario)
        if serial is not None:
            sc = dataclasses.replace(sc, serial=pump_serial(serial))
        if log_path is not None:
            _check_writable(log_path)
        if screens is not None:
            try:
                screens.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                _fail(f"{screens}: {e.strerror}")
        emu = Emulator(sc, log=log_path is not None, screens=screens)
        show_bar = not as_json and sc.duration_us > _LONG_RUN_US and sys.stderr.isatty()
        if show_bar:
            with click.progressbar(
                length=sc.duration_us, label="simulating", file=sys.stderr
            ) as bar:
                done = [0]

                def tick(elapsed: int) -> None:
                    bar.update(elapsed - done[0])
                    done[0] = elapsed

                res = emu.run(tick)
        else:
            res = emu.run()
    except (ScenarioError, TransitionError) as e:
        _fail(f"{scenario}: {e}")
    if log_path is not None:
        try:
            records = emu.save_log(log_path)
        except OSError as e:
            _fail(f"{log_path}: {e.strerror}")
        if not as_json:
            click.echo(f"log written  {log_path} ({records} records)", err=True)
    if emu.bedside is not None and emu.bedside.written and not as_json:
        shots = emu.bedside.written
        click.echo(f"screens      {len(shots)} PNGs in {screens}: {shots[-1].name} last", err=True)
    if as_json:
        out = res.as_json()
        if emu.bedside is not None:
            out["screens"] = [str(p) for p in emu.bedside.written]
        out["events_not_applied"] = [
            {"event": ev.key, "at_min": ev.at_us / 60e6, "action": ev.action, "reason": why}
            for ev, why in emu.not_applied
        ]
        out["commands_refused"] = emu.commands_refused()
        out["commands_unexpected"] = emu.commands_unexpected()
        click.echo(json.dumps(out))
    else:
        click.echo(_summary(res, emu))
    if n := len(emu.commands_unexpected()):
        # A refusal the script did not say it meant is most likely a mistake in the script.
        click.echo(
            f"pumpctl: {scenario}: {n} command{'s' if n > 1 else ''} did not go as the script "
            'expects (a refusal meant as one: expect = "CODE" on its [[command]])',
            err=True,
        )
        sys.exit(1)
