"""The emulator's API Gateway: serves whatever REST APIs moto holds, the way API Gateway runs them.

A call goes through the steps of a REST API on AWS: route by stage, path and method; the API key
(when the method requires one); the request validator and the body's model; the request mapping
template of the body's content type; the AWS integration; the integration response whose
selection pattern matches the service's status code, and its mapping template.

URLs: `/restapis/<api id>/<stage>/_user_request_/<path>` reaches any API; `/<stage>/<path>`, the
form of https://<api id>.execute-api.<region>.amazonaws.com/<stage>/<path>, works while the emulator
holds exactly one REST API. Not emulated: throttling and quotas, the integration role's
permissions, authorizers, caching, and the difference between a stage's deployment and the API's
current resources (a call always reaches the current ones).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from jsonschema import Draft4Validator
from werkzeug.wrappers import Request, Response

from emulator.apigateway import rest_apis, velocity
from emulator.apigateway.integrations import (
    IntegrationNotEmulated,
    IntegrationResult,
    IntegrationTimeout,
    call_aws_action,
)
from emulator.apigateway.mapping import Input, Util

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's REST API payload limit
DEFAULT_CONTENT_TYPE = "application/json"  # what API Gateway assumes when a call sends none
_LONG_FORM = re.compile(r"/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?")
_SHORT_FORM = re.compile(r"/(?P<stage>[^/]+)(?P<path>/.*)?")
log = logging.getLogger(__name__)


class GatewayError(Exception):
    """An answer API Gateway itself gives: its status, message and x-amzn-ErrorType."""

    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


NO_ROUTE = GatewayError(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
FORBIDDEN = GatewayError(403, "Forbidden", "ForbiddenException")
INVALID_BODY = GatewayError(400, "Invalid request body", "BadRequestException")
UNSUPPORTED_MEDIA_TYPE = GatewayError(415, "Unsupported Media Type", "UnsupportedMediaTypeException")
TOO_LONG = GatewayError(413, "Request Too Long", "RequestTooLongException")
INTERNAL_ERROR = GatewayError(500, "Internal server error", "InternalServerErrorException")
TIMED_OUT = GatewayError(504, "Endpoint request timed out", "IntegrationTimeout")


def _resolve(path: str, http_method: str) -> tuple[rest_apis.Route, str]:
    """Return the route a URL path reaches and the path within the API."""
    match = _LONG_FORM.fullmatch(path)
    api_id = match["api"] if match else None
    if match is None:
        match = _SHORT_FORM.fullmatch(path)
        if match is None or rest_apis.count_apis() != 1:
            raise NO_ROUTE
    stage, api_path = match["stage"], match["path"] or "/"
    apis = rest_apis.apis_with_stage(stage, api_id)
    route = rest_apis.find_route(*apis[0], stage, api_path, http_method) if apis else None
    if route is None:
        raise NO_ROUTE
    return route, api_path


def _extended_request_id() -> str:
    # The shape of API Gateway's: 16 base64 characters, which may hold "+", "/" and "=".
    return base64.b64encode(os.urandom(11)).decode()


def _context(request: Request, ids: dict[str, str], route: rest_apis.Route, api_path: str, key: Any) -> dict[str, Any]:
    """$context, as API Gateway defines it for a REST API."""
    now = time.time()
    return {
        **ids,
        "apiId": route.api.id,
        "accountId": route.backend.account_id,
        "stage": route.stage,
        "httpMethod": request.method,
        "resourceId": route.resource_id,
        "resourcePath": route.resource_path,
        "path": f"/{route.stage}{api_path}",
        "domainName": request.host,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "identity": {
            "sourceIp": request.remote_addr,
            "userAgent": request.user_agent.string,
            "apiKey": key.value if key else None,
            "apiKeyId": key.id if key else None,
        },
    }


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a double")
    return value


def _validate_body(raw: bytes, schema: str) -> None:
    """Refuse a body that is not strict JSON or does not match the model's draft-4 schema."""
    try:
        document = json.loads(raw.decode(), parse_constant=_refuse_constant, parse_float=_finite)
        json.dumps(document, ensure_ascii=False).encode()  # "\ud800" alone parses, but is not text
    except (ValueError, RecursionError) as error:  # UnicodeError is a ValueError
        raise INVALID_BODY from error
    if not Draft4Validator(json.loads(schema)).is_valid(document):
        raise INVALID_BODY


def _template_for(route: rest_apis.Route, content_type: str) -> str | None:
    """The request template of this content type; None passes the body through; 415 when passthrough is refused."""
    integration = route.integration
    templates = integration.request_templates or {}
    if content_type in templates:
        return templates[content_type] or ""
    behavior = (integration.passthrough_behaviour or "WHEN_NO_MATCH").upper()
    if behavior == "NEVER" or (behavior == "WHEN_NO_TEMPLATES" and templates):
        raise UNSUPPORTED_MEDIA_TYPE
    return None


def _select_response(route: rest_apis.Route, status: int) -> Any:
    """The integration response whose selection pattern fully matches the status code, else the default one."""
    default = None
    for response in list((route.integration.integration_responses or {}).values()):
        if not response.selection_pattern:
            default = default or response
        elif re.fullmatch(response.selection_pattern, str(status)):
            return response
    return default


def _respond(route: rest_apis.Route, result: IntegrationResult, variables: dict[str, Any], accept: str) -> Response:
    """Map the service's answer through the selected integration response."""
    selected = _select_response(route, result.status)
    if selected is None:
        raise INTERNAL_ERROR
    templates = {key: value for key, value in (selected.response_templates or {}).items() if value}
    content_type = accept if accept in templates else DEFAULT_CONTENT_TYPE
    if content_type not in templates and templates:
        content_type = next(iter(templates))
    body = result.body
    if content_type in templates:
        body = velocity.render(templates[content_type], {**variables, "input": Input(result.body)})
    return Response(body, status=int(selected.status_code), content_type=content_type)


def _integration_request(request: Request, route: rest_apis.Route, raw: bytes, variables: dict[str, Any]) -> str:
    """Validate the body, then render the request template of its content type (or pass the body through)."""
    content_type = (request.mimetype or DEFAULT_CONTENT_TYPE).lower()
    schema = rest_apis.body_schema(route, content_type)
    if schema is not None:
        _validate_body(raw, schema)
    template = _template_for(route, content_type)
    body = raw.decode(errors="replace")
    if template is None:
        return body
    params = {"path": route.path_parameters, "querystring": dict(request.args), "header": dict(request.headers)}
    return velocity.render(template, {**variables, "input": Input(body, params)})


def _handle(request: Request, ids: dict[str, str], endpoint_url: str) -> Response:
    route, api_path = _resolve(request.path, request.method)
    key = rest_apis.api_key_for(route, request.headers.get("x-api-key"))
    if route.method.api_key_required and key is None:
        raise FORBIDDEN
    raw = request.get_data(cache=False)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise TOO_LONG
    variables = {"context": _context(request, ids, route, api_path, key), "util": Util(), "stageVariables": {}}
    body = _integration_request(request, route, raw, variables)
    integration = route.integration
    if (integration.integration_type or "").upper() != "AWS":
        raise IntegrationNotEmulated(f"integration type {integration.integration_type} is not emulated")
    result = call_aws_action(integration.uri, body, endpoint_url)
    return _respond(route, result, variables, request.accept_mimetypes.best or "")


def create_gateway(endpoint_url: str) -> Callable[..., Any]:
    """Return the WSGI app serving the REST APIs moto holds; AWS integrations call endpoint_url."""

    @Request.application
    def gateway(request: Request) -> Response:
        # Made here, never taken from the call: a caller's request id header cannot choose them.
        ids = {"requestId": str(uuid.uuid4()), "extendedRequestId": _extended_request_id()}
        try:
            if request.content_length and request.content_length > MAX_PAYLOAD_BYTES:
                raise TOO_LONG
            response = _handle(request, ids, endpoint_url)
        except GatewayError as error:
            response = Response(json.dumps({"message": error.message}), error.status, content_type="application/json")
            response.headers["x-amzn-ErrorType"] = error.error_type
        except IntegrationTimeout:
            response = Response(json.dumps({"message": TIMED_OUT.message}), 504, content_type="application/json")
        except Exception:  # a template or integration fault is the caller's 500, as on AWS, and logged here
            log.exception("%s %s failed in the gateway", request.method, request.path)
            response = Response(json.dumps({"message": INTERNAL_ERROR.message}), 500, content_type="application/json")
        response.headers["x-amzn-RequestId"] = ids["requestId"]
        response.headers["x-amz-apigw-id"] = ids["extendedRequestId"]
        return response

    return gateway
