"""The REST APIs held in the emulator's moto API Gateway backend, looked up the way a call is routed.

The gateway runs in the process that runs moto, so it reads moto's backend objects directly: one
lookup per call, no copy to keep in step. This module is the only one that knows their attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.apigateway.models import APIGatewayBackend, Integration, Method, RestAPI, apigateway_backends


@dataclass(frozen=True)
class Route:
    """Where a call goes: the API, its stage, the resource and method it matched, and the path parameters."""

    backend: APIGatewayBackend
    api: RestAPI
    stage: str
    resource_id: str
    resource_path: str
    method: Method
    path_parameters: dict[str, str]

    @property
    def integration(self) -> Integration:
        """The method's integration; AWS refuses to deploy a method without one, so a route always has it."""
        integration = self.method.method_integration
        if integration is None:
            raise LookupError(f"{self.resource_path} has no integration; AWS would not have deployed it")
        return integration


def _backends() -> Iterator[APIGatewayBackend]:
    for regional in list(apigateway_backends.values()):
        yield from list(regional.values())


def apis_with_stage(stage: str, api_id: str | None = None) -> list[tuple[APIGatewayBackend, RestAPI]]:
    """Every REST API (of every account and region) that has this stage, or only the one with this id."""
    return [
        (backend, api)
        for backend in _backends()
        for api in list(backend.apis.values())
        if stage in api.stages and (api_id is None or api.id == api_id)
    ]


def count_apis() -> int:
    """How many REST APIs the emulator holds."""
    return sum(len(backend.apis) for backend in _backends())


def _match_path(template: str, path: str) -> dict[str, str] | None:
    """Match a resource path such as /orders/{id} or /{proxy+} against a request path; return its parameters."""
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    parameters: dict[str, str] = {}
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            parameters[part[1:-2]] = "/".join(given[index:])
            return parameters if index < len(given) and given[index] else None
        if index >= len(given):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = given[index]
        elif part != given[index]:
            return None
    return parameters if len(wanted) == len(given) else None


def find_route(backend: APIGatewayBackend, api: RestAPI, stage: str, path: str, http_method: str) -> Route | None:
    """The resource and method a call to this path reaches, or None; literal paths win over parameters."""
    candidates = []
    for resource in list(api.resources.values()):
        resource_path = resource.get_path()
        parameters = _match_path(resource_path, path)
        method = resource.resource_methods.get(http_method) or resource.resource_methods.get("ANY")
        if parameters is not None and method is not None:
            route = Route(backend, api, stage, resource.id, resource_path, method, parameters)
            candidates.append((len(parameters), route))
    return min(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


def api_key_for(route: Route, value: str | None) -> Any | None:
    """The enabled API key with this value that a usage plan of the route's API and stage holds, or None."""
    key = next((key for key in list(route.backend.keys.values()) if value and key.value == value), None)
    if key is None or not key.enabled:
        return None
    for plan in list(route.backend.usage_plans.values()):
        stages = {(stage.get("apiId"), stage.get("stage")) for stage in plan.api_stages}
        if (route.api.id, route.stage) in stages and key.id in route.backend.usage_plan_keys.get(plan.id, {}):
            return key
    return None


def body_schema(route: Route, content_type: str) -> str | None:
    """The JSON schema the method's validator checks a body of this content type against, or None."""
    validator = route.api.request_validators.get(route.method.request_validator_id or "")
    if validator is None or not validator.validate_request_body:
        return None
    models = route.method.request_models or {}
    model_name = models.get(content_type) or models.get("$default")
    model = route.api.models.get(model_name) if model_name else None
    return model.schema if model is not None else None
