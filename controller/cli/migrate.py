"""python -m controller migrate: bring the configured store's schema up to date, as a start does."""

from __future__ import annotations

import argparse
import sys

from controller.core.config import ConfigurationError, store_config
from controller.service.stores import backend_for


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `migrate` command to the main parser."""
    commands.add_parser("migrate", help="bring the database's schema up to date (CONTROLLER_DATABASE), then exit")


def run(_args: argparse.Namespace) -> int:
    """Apply the migrations the configured store lacks; return the exit status."""
    try:
        backend = backend_for(store_config())
        version = backend.migrate()
    except ConfigurationError as error:  # DatabaseTooNew and TableUnusable among them
        print(f"controller migrate: {error}", file=sys.stderr)
        return 1
    print(f"{backend.describe()} is at schema version {version}.")
    return 0
