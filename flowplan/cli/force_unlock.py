"""`flowplan force-unlock LOCK_ID`: release a lock that a killed apply left behind."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import manifest_option, state_option


@click.command("force-unlock")
@click.argument("lock_id")
@manifest_option
@state_option
def force_unlock(lock_id: str, manifest_path: Path, state_path: str | None) -> int:
    """Release the state's lock LOCK_ID (the id a refused apply names) when its holder is gone.

    Only S3 can be left locked: a file's OS lock and PostgreSQL's advisory lock die with the
    process that held them. A lock whose holder is alive is never taken away.
    """
    from flowplan.cli import state_cmd
    from flowplan.state.location import open_state

    done = state_cmd.force_unlock(open_state(manifest_path, state_path), lock_id)
    click.echo(done[:1].upper() + done[1:] + ".")
    return 0
