"""What a serving process does once, before it answers: work that must not run when an app is only built."""

from __future__ import annotations

from flask import Flask

from controller import db, decisions
from controller.aws import clients_of
from controller.background import Background


def prepare_to_serve(app: Flask) -> Background | None:
    """Finish decisions a crash left claimed, then start the background work unless it is turned off.

    If AWS is down, the claims are finished later by the background upkeep (or by /pending).
    """
    decisions.resume_claims(
        db.thread_connection(app.config["DATABASE"]), clients_of(app)["stepfunctions"], older_than_seconds=0
    )
    if not app.config["BACKGROUND"]:
        return None
    background = Background(app)
    background.start()
    app.extensions["background"] = background
    return background
