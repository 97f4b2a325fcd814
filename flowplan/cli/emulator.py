"""`flowplan emulator`: the local Flow Service + Data Prep + IMS emulator."""

from __future__ import annotations

import logging
import sys

import click

from flowplan.errors import EmulatorError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--latency-ms",
    default=0,
    type=click.IntRange(0),
    help="Answer each request this many ms after it came in.",
)
@click.option(
    "--fail-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of Flow Service requests that fail (429, 5xx, dropped answers).",
)
@click.option("--seed", default=None, type=int, help="Seed for --fail-rate's choices.")
@click.option("--strict", is_flag=True, help="Accept only tokens issued by this emulator's IMS.")
@click.option(
    "--sandbox",
    "sandboxes",
    multiple=True,
    metavar="NAME",
    help="A sandbox that exists (repeatable; others answer 404). Default: prod, dev, stage.",
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="How much faster than the wall clock dataflow schedules run.",
)
def emulator(
    host: str,
    port: int,
    latency_ms: int,
    fail_rate: float,
    seed: int | None,
    strict: bool,
    sandboxes: tuple[str, ...],
    time_scale: float,
) -> int:
    """Run the local Flow Service + IMS emulator until interrupted."""
    try:
        from flowplan.emulator import Emulator
        from flowplan.emulator.backend import DEFAULT_SANDBOXES
    except ModuleNotFoundError as exc:  # its own dependencies are an extra
        raise EmulatorError(
            f"the emulator needs {exc.name}: pip install 'flowplan[emulator]'"
        ) from None
    from flowplan.loopback import is_loopback

    if not is_loopback(host):
        click.echo(f"Warning: listening on {host}, beyond this machine.", err=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        emu = Emulator(
            host,
            port,
            sandboxes=sandboxes or DEFAULT_SANDBOXES,
            time_scale=time_scale,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            seed=seed,
            strict=strict,
            log_requests=True,
            record_requests=False,
        )
    except EmulatorError as exc:
        raise EmulatorError(f"{exc}; choose another with --port") from None
    click.echo(f"Flow Service emulator: FLOWPLAN_ENDPOINT={emu.flow_url}")
    click.echo(f"IMS token endpoint:    FLOWPLAN_IMS_ENDPOINT={emu.ims_url}")
    click.echo(f"Sandboxes:             {', '.join(sorted(emu.backend.sandboxes))}")
    sys.stdout.flush()
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0
