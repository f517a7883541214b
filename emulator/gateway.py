"""POST /start/workflow: what the API Gateway integration in terraform/ does on AWS.

moto's API Gateway cannot call Step Functions, so the emulator serves the route itself:
validate the body against the order schema, then StartExecution with the body as input
and a fresh request id as the execution name. The caller never picks the state machine.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask, jsonify, request
from jsonschema import Draft4Validator
from werkzeug.exceptions import HTTPException

from stack.definition import load_stack
from stack.paths import ORDER_SCHEMA_FILE

MAX_INPUT_BYTES = 256 * 1024  # Step Functions' limit on an execution's input
ORDER_VALIDATOR = Draft4Validator(json.loads(ORDER_SCHEMA_FILE.read_text()))


def order_errors(body: Any) -> list[str]:
    """Return the reasons the body is not a valid order, as API Gateway's validator would."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or 'body'}: {error.message}"
        for error in sorted(ORDER_VALIDATOR.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """Return the body parsed as strict JSON (no NaN/Infinity, no unpaired surrogate), or None if it is not."""
    if not request.is_json:
        return None
    try:
        body = json.loads(request.get_data(), parse_constant=_refuse_constant)
        json.dumps(body, ensure_ascii=False).encode()  # "\ud800" alone parses, but is not text
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return body


def create_gateway(sfn: Any, state_machine_arn: str) -> Flask:
    """Return the WSGI app that stands for the REST API."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_INPUT_BYTES

    @app.post(load_stack()["api"]["path"])
    def start_workflow() -> Any:
        body = json_body()
        if body is None:
            return jsonify(
                message="The body must be a JSON order sent as application/json"
                " (strict JSON: no NaN, no unpaired surrogates)."
            ), 400
        errors = order_errors(body)
        if errors:
            return jsonify(message="Invalid request body", errors=errors), 400
        execution = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(body)
        )
        name = execution["executionArn"].rsplit(":", 1)[-1]
        return jsonify(executionArn=execution["executionArn"], name=name, startDate=execution["startDate"].timestamp())

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return jsonify(message=error.description), error.code

    return app
