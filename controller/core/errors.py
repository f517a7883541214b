"""The controller's errors, and the one handler that turns them into JSON responses."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException


class ApprovalError(Exception):
    """Base class: a message a person can act on, an HTTP status and optional details."""

    status = 500
    code = "InternalError"
    headers: dict[str, str] = {}  # noqa: RUF012 (subclasses replace it, never change it)

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, object]:
        """Return the error as the API shows it: {"error": code, "message": text, ...details}."""
        return {"error": self.code, "message": self.message, **self.details}


class InvalidInput(ApprovalError):
    status, code = 400, "InvalidInput"


class UnknownHost(ApprovalError):
    status, code = 400, "UnknownHost"


class SignInRequired(ApprovalError):
    status, code = 401, "SignInRequired"
    headers = {"WWW-Authenticate": 'Bearer realm="approval controller"'}  # noqa: RUF012


class CrossSiteRequest(ApprovalError):
    status, code = 403, "CrossSiteRequest"


class NotAllowed(ApprovalError):
    status, code = 403, "NotAllowed"


class RequestNotFound(ApprovalError):
    status, code = 404, "RequestNotFound"


class NoPendingRequest(ApprovalError):
    status, code = 404, "NoPendingRequest"


class AlreadyDecided(ApprovalError):
    status, code = 409, "AlreadyDecided"


class AlreadyApproved(ApprovalError):
    status, code = 409, "AlreadyApproved"


class SeveralPending(ApprovalError):
    status, code = 409, "SeveralPending"


class RequestNotNamed(ApprovalError):
    status, code = 409, "RequestNotNamed"


class RequestExpired(ApprovalError):
    status, code = 410, "RequestExpired"


class OrderChanged(ApprovalError):
    status, code = 412, "OrderChanged"


class UnsupportedMediaType(ApprovalError):
    status, code = 415, "UnsupportedMediaType"


class TooManyAttempts(ApprovalError):
    status, code = 429, "TooManyAttempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class TooManyStreams(ApprovalError):
    status, code = 503, "TooManyStreams"


class AwsUnavailable(ApprovalError):
    status, code = 503, "AwsUnavailable"


class StoreUnavailable(ApprovalError):
    status, code = 503, "StoreUnavailable"


def register_error_handlers(app: Flask) -> None:
    """Answer every error as JSON: {"error": code, "message": text, ...details}."""

    @app.errorhandler(ApprovalError)
    def approval_error(error: ApprovalError) -> ResponseReturnValue:
        return jsonify(error.as_dict()), error.status, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        return jsonify(error=error.name.replace(" ", ""), message=error.description), error.code or 500
