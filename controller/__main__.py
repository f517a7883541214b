"""python -m controller: serve the approval controller (127.0.0.1:3000 unless configured), or manage its users.

python -m controller                                   serve, with waitress (migrating the database first)
python -m controller migrate                           bring the database's schema up to date, and exit
python -m controller users add NAME --role approver    add a user; prints their API token last
python -m controller users add NAME --role approver --group finance   ... in a group (repeatable)
python -m controller users groups NAME [GROUP ...]    set a user's groups
python -m controller users list | remove NAME | token NAME | passwd NAME | local-mode
python -m controller policy check FILE [--order ORDER.json]   check an approval policy file
python -m controller copy-to-dynamodb                  copy the SQLite database into the shared table
"""

from __future__ import annotations

import argparse
import logging
import sys

from flask import Flask

from controller import create_app
from controller.access import auth
from controller.cli import copy, migrate, policy, users
from controller.core import logs
from controller.core.config import ConfigurationError, load_config, settings
from controller.core.errors import StoreUnavailable
from controller.service.startup import prepare_to_serve, wsgi_server
from controller.storage.context import backend_of


def serve() -> None:
    """Start the controller with the production server, or explain what configuration is missing."""
    app = configured_app()
    try:
        run(app)
    except (ConfigurationError, StoreUnavailable) as error:  # the start-up work found the store unusable
        sys.exit(f"controller: {error}")


def configured_app() -> Flask:
    """Build the app from the environment, or exit with what configuration is missing."""
    try:
        logs.configure(settings()["LOG_FORMAT"])
        app = create_app(load_config())
        backend_of(app).migrate()  # check_bind asks the store for its users
        auth.check_bind(app)
        app.extensions["serving"] = backend_of(app).claim_serving()  # held until the process ends
    except ConfigurationError as error:  # DatabaseTooNew, DatabaseUnusable, TableUnusable, AlreadyServed among them
        sys.exit(f"controller: {error}")
    except StoreUnavailable as error:  # the table was there, and then refused what the start asked of it
        sys.exit(f"controller: {error.message}")
    return app


def run(app: Flask) -> None:
    """Do the start-up work, then serve app with waitress until the process ends."""
    if not auth.is_loopback(app.config["HOST"]):
        logging.getLogger("controller").warning(
            "listening on %s, beyond this machine: every request needs sign-in; serve it over HTTPS through a"
            " reverse proxy (docs/operations.md)",
            app.config["HOST"],
        )
    prepare_to_serve(app)
    server = wsgi_server(app)
    print(
        f"controller ready on http://{app.config['HOST']}:{app.config['PORT']} ({app.config['CONFIG_SOURCE']} stack,"
        f" {backend_of(app).describe()}, {auth.mode_description(app)}, {app.config['THREADS']} threads)",
        flush=True,
    )
    try:
        server.run()
    finally:
        app.extensions["serving"].close()


def main(argv: list[str] | None = None) -> None:
    """Serve, or run a command."""
    parser = argparse.ArgumentParser(
        prog="python -m controller", description="Serve the approval controller, or manage its users."
    )
    commands = parser.add_subparsers(dest="command")
    migrate.add_parser(commands)
    users.add_parser(commands)
    policy.add_parser(commands)
    copy.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command is None:
        serve()
    else:
        # a command prints its own one line for a failure; the store's log lines are the server's
        logging.getLogger("controller.store").setLevel(logging.CRITICAL)
        sys.exit(
            {"migrate": migrate.run, "users": users.run, "policy": policy.run, copy.NAME: copy.run}[args.command](args)
        )


if __name__ == "__main__":
    main()
