"""What a serving process does once, before it answers: work that must not run when an app is only built."""

from __future__ import annotations

from flask import Flask

from controller import db, decisions
from controller.aws import clients_of


def prepare_to_serve(app: Flask) -> None:
    """Finish decisions a crash left claimed; if AWS is down, /pending finishes them later."""
    connection = db.connect(app.config["DATABASE"])
    try:
        decisions.resume_claims(connection, clients_of(app)["stepfunctions"], older_than_seconds=0)
    finally:
        connection.close()
