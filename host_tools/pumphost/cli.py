"""pumpctl: the pump's host command line. Each package brings its commands (its cli.py); they
are added here, so what pumpctl offers is read from this file."""

import click

from pumphost.logs.cli import logs
from pumphost.protocol import cli as protocol_cli
from pumphost.sim.cli import sim
from pumphost.vboard.cli import pair, vboard


@click.group()
@protocol_cli.port_options
@click.pass_context
def cli(ctx: click.Context, port: str | None, pin: str | None) -> None:
    """Syringe pump host tools: the emulator (sim), the virtual board (vboard), and a pump
    through its protocol (--port PORT status|program|start|...)."""
    ctx.obj = {"port": port, "pin": pin}


cli.add_command(sim)
cli.add_command(vboard)
vboard.add_command(pair)
cli.add_command(logs)
for _command in protocol_cli.COMMANDS:  # pumpctl --port PORT status|program|start|...
    cli.add_command(_command)


def _add_review() -> None:
    """The review service's commands, when its extra is installed (pumphost[review])."""
    try:
        from pumphost.review.cli import cohort, review, upload
    except ImportError as e:
        missing = e.name or "a dependency"

        @click.command(name="review", context_settings={"ignore_unknown_options": True})
        @click.argument("args", nargs=-1, type=click.UNPROCESSED)
        def unavailable(args: tuple[str, ...]) -> None:
            """The log review service (not installed: pip install 'pumphost[review]')."""
            raise click.ClickException(
                f"the review service needs pumphost[review] ({missing} is not installed)"
            )

        cli.add_command(unavailable, "review")
        cli.add_command(unavailable, "cohort")
        return
    logs.add_command(upload)  # pumpctl logs upload: the review service's client
    cli.add_command(review)
    cli.add_command(cohort)


_add_review()


def main() -> None:
    cli(prog_name="pumpctl")
