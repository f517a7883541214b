"""Mapping templates render as API Gateway renders them: Velocity literals, Java String methods, $util, $input."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.apigateway import velocity
from emulator.apigateway.mapping import Input, Util, escape_javascript
from stack.definition import render_template
from stack.paths import REQUEST_TEMPLATE_FILE, RESPONSE_TEMPLATE_FILE

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"


def render(template: str, body: str = "{}", **context: object) -> str:
    return velocity.render(template, {"input": Input(body), "util": Util(), "context": context})


def rendered_request(body: str, extended_request_id: str = "AbC+d/EF12345==") -> dict:
    template = render_template(REQUEST_TEMPLATE_FILE.read_text(), {"state_machine_arn": ARN})
    return json.loads(render(template, body, extendedRequestId=extended_request_id, requestId="chosen"))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('$context.v.replaceAll("(a)(b)", "$2$1")', "bax"),  # Java groups in the replacement
        ('$context.v.replaceAll("a", "\\$")', "$bx"),  # \$ is a literal dollar in Java
        ("$context.v.indexOf('z')", "-1"),
        ('$context.v.lastIndexOf("x")', "2"),
        ("$context.v.toUpperCase()", "ABX"),
        ('"\\n"', '"\\n"'),  # a string literal keeps its backslash, as Velocity does
    ],
)
def test_java_string_methods_and_literals_behave_as_in_velocity_on_java(template: str, expected: str) -> None:
    assert render(template, v="abx") == expected


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("it's", "it\\'s"), ('"/\\', '\\"\\/\\\\'), ("é\n\u0001", "\\u00E9\\n\\u0001"), ("🚀", "\\uD83D\\uDE80")],
)
def test_escape_javascript_is_commons_lang_escape_javascript(text: str, escaped: str) -> None:
    assert escape_javascript(text) == escaped


def test_input_json_path_and_params_select_as_api_gateway_does() -> None:
    body = json.dumps({"a": {"b": [1, {"c": "d"}]}, "k y": True})

    assert render("$input.json('$.a.b[1]')", body) == '{"c":"d"}'
    assert render("$input.path('$.a.b[1].c')|$input.json('$[\"k y\"]')", body) == "d|true"
    assert render("$util.urlEncode('a b&c')|$util.base64Encode('hi')", body) == "a+b%26c|aGk="


def test_the_execution_name_is_the_extended_request_id_mapped_to_allowed_characters() -> None:
    request = rendered_request("{}", "AbC+d/EF12345==")

    assert request["name"] == "AbC-d-EF12345--"
    assert request["stateMachineArn"] == ARN
    assert rendered_request("{}", "x" * 100)["name"] == "x" * 80


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.text(max_size=10), st.text() | st.integers() | st.booleans() | st.none(), max_size=5))
def test_any_json_body_becomes_the_execution_input_unchanged(body: dict) -> None:
    assert json.loads(rendered_request(json.dumps(body))["input"]) == body


def test_the_success_response_names_the_execution_from_its_arn() -> None:
    answer = json.dumps({"executionArn": f"{ARN.replace('stateMachine', 'execution')}:AbC-d", "startDate": 1.5})

    rendered = json.loads(render(RESPONSE_TEMPLATE_FILE.read_text(), answer))

    assert rendered == {"executionArn": json.loads(answer)["executionArn"], "name": "AbC-d", "startDate": 1.5}
    assert re.fullmatch(r"[A-Za-z0-9_-]+", rendered["name"])
