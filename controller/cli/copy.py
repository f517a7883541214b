"""python -m controller copy-to-dynamodb: copy the SQLite database into the shared DynamoDB table, to move a team's
controller to the shared store (docs/shared-store.md, "Upgrading from SQLite").

Run it with the settings the controllers will serve the table with (CONTROLLER_STORE=dynamodb, the table, the
region): it reads CONTROLLER_DATABASE, which no controller may serve meanwhile, and writes the table. Running it
again writes nothing and reports the same counts; a table that holds other data is refused, unchanged.
"""

from __future__ import annotations

import argparse
import sys

from controller.core.config import ConfigurationError, store_config
from controller.core.errors import StoreUnavailable
from controller.service.stores import backend_for
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.dynamodb.copying import CopyReport, copy_contents
from controller.storage.dynamodb.store import TableUnusable
from controller.storage.sqlite_contents import held_contents

NAME = "copy-to-dynamodb"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `copy-to-dynamodb` command to the main parser."""
    commands.add_parser(
        NAME,
        help="copy the SQLite database (CONTROLLER_DATABASE) into the shared table (CONTROLLER_STORE=dynamodb);"
        " running it again changes nothing",
    )


def _print(report: CopyReport, database: str, table: str) -> None:
    states = ", ".join(f"{count} {state}" for state, count in report.requests_by_state.items())
    print(f"Copied {database} into the DynamoDB table {table}:")
    for kind, count in report.counts.items():
        print(f"  {kind}: {count}" + (f" ({states})" if kind == "requests" and states else ""))
    print(f"  events: numbered on from {report.latest_event}")
    already = "everything else was there already" if report.written else "all of it was there already"
    print(f"{report.written} items written; {already}. Serve the table: CONTROLLER_STORE=dynamodb.")


def _copy(config: dict[str, object]) -> tuple[CopyReport, str]:
    backend = backend_for(config)
    if not isinstance(backend, DynamoDbBackend):
        raise ConfigurationError(
            "This command copies CONTROLLER_DATABASE into the shared table: run it with the settings the controllers"
            " will serve the table with, CONTROLLER_STORE=dynamodb among them (docs/shared-store.md)."
        )
    try:
        backend.migrate()
    except TableUnusable as error:  # not there in this region, or not of this layout
        raise TableUnusable(f"{error} The region looked in: {backend.dynamodb.meta.region_name}.") from error
    with held_contents(str(config["DATABASE"])) as contents:
        return copy_contents(backend.dynamodb, backend.table, contents), backend.table


def run(_args: argparse.Namespace) -> int:
    """Copy the configured database into the configured table; return the exit status."""
    try:
        config = store_config()
        report, table = _copy(config)
    except ConfigurationError as error:  # NoDatabase, AlreadyServed, TableUnusable and CopyRefused among them
        print(f"controller {NAME}: {error}", file=sys.stderr)
        return 1
    except StoreUnavailable as error:
        print(
            f"controller {NAME}: the table cannot be used ({error.details.get('reason', error)}); once it can, run"
            " the copy again: it carries on where it stopped.",
            file=sys.stderr,
        )
        return 1
    _print(report, config["DATABASE"], table)
    return 0
