"""How the emulator's API Gateway finds the REST API of a URL, run in-process on moto's backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from emulator.apigateway.gateway import create_gateway
from emulator.provision.api import ApiDeployment, provision_api
from stack.definition import load_stack

STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:routing"
ROLE_ARN = "arn:aws:iam::123456789012:role/routing"
UNREACHABLE = "http://127.0.0.1:9"  # no call in these tests reaches the integration


@pytest.fixture
def apigateway() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("apigateway", region_name="eu-west-1")


def deploy(apigateway: Any, prefix: str) -> ApiDeployment:
    return provision_api(apigateway, load_stack(), prefix, STATE_MACHINE_ARN, ROLE_ARN)


def post(path: str, key: str) -> tuple[int, dict[str, Any]]:
    """POST an empty object (refused by the validator, so nothing is called) and return the answer."""
    response = Client(create_gateway(UNREACHABLE)).post(path, data="{}", headers={"x-api-key": key})
    return response.status_code, json.loads(response.get_data())


def test_the_stage_and_path_reach_the_only_rest_api(apigateway):
    api = deploy(apigateway, "only")

    assert post("/v1/start/workflow", api.api_key) == (400, {"message": "Invalid request body"})


def test_with_several_rest_apis_only_the_long_form_names_one(apigateway):
    first, second = deploy(apigateway, "first"), deploy(apigateway, "second")

    assert post("/v1/start/workflow", first.api_key) == (403, {"message": "Missing Authentication Token"})
    assert post(first.path_url("", "/start/workflow"), first.api_key)[0] == 400
    assert post(second.path_url("", "/start/workflow"), first.api_key) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize("path", ["/v2/start/workflow", "/v1/start", "/v1/start/workflow/more", "/"])
def test_a_stage_or_path_the_api_does_not_have_gets_403_missing_authentication_token(apigateway, path):
    api = deploy(apigateway, "only")

    assert post(path, api.api_key) == (403, {"message": "Missing Authentication Token"})
