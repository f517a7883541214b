"""python -m controller migrate: bring the configured store's schema up to date, as a start does."""

from __future__ import annotations

import argparse
import sys

from controller.core.config import ConfigurationError, settings
from controller.storage.backends import backend_for


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `migrate` command to the main parser."""
    commands.add_parser("migrate", help="bring the database's schema up to date (CONTROLLER_DATABASE), then exit")


def run(_args: argparse.Namespace) -> int:
    """Apply the migrations the configured store lacks; return the exit status."""
    config = settings()
    try:
        version = backend_for(config).migrate()
    except ConfigurationError as error:  # DatabaseTooNew among them
        print(f"controller migrate: {error}", file=sys.stderr)
        return 1
    print(f"{config['DATABASE']} is at schema version {version}.")
    return 0
