"""The approval controller: a Flask app that answers Step Functions for a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from controller.access import auth
from controller.approval import policy
from controller.approval.inbox import DeadLetters
from controller.core.config import DEFAULTS, check_serving
from controller.core.errors import register_error_handlers
from controller.core.metrics import Metrics
from controller.service import aws
from controller.service.stores import backend_for
from controller.storage import context
from controller.web import api, audit, events, history, insights, metrics, pages, requestlog, security, signin


def create_app(config: Mapping[str, Any]) -> Flask:
    """Build the app for a configuration (load_config() reads the environment's): its store, AWS clients, routes.

    Only wiring: no migration, no AWS call, no shell-out (prepare_to_serve() migrates the store). The one
    file read is the policy file, so that a bad one stops the start.
    """
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(DEFAULTS)
    app.config.update(config)
    check_serving(app.config)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting; keeps field order
    app.extensions["metrics"] = Metrics()
    context.init_app(app, backend_for(app.config, app.extensions["metrics"]))
    # read and checked once, so a bad file stops the start; requests then carry the rule they got
    app.config["POLICY"] = policy.load(app.config["POLICY_FILE"]) if app.config["POLICY_FILE"] else None
    aws.init_app(app)
    app.extensions["dead_letters"] = DeadLetters()
    register_error_handlers(app)
    requestlog.init_app(app)  # first: every request gets its id and its log line, refused or not
    security.init_app(app)  # host names, body size, cross-site: before anything else
    auth.init_app(app)  # then who is asking
    app.register_blueprint(api.bp)
    events.init_app(app)
    pages.init_app(app)
    app.register_blueprint(signin.bp)
    audit.init_app(app)
    metrics.init_app(app)
    history.init_app(app)
    insights.init_app(app)
    return app
