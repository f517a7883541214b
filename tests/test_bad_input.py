"""Property tests: bad input gets a 4xx with a reason and changes nothing; valid unicode gets through.

/start/workflow is the stack's REST API at the emulator's API Gateway, called with its API key;
"nothing started" counts the executions of the emulator's main state machine. Its refusals are
API Gateway's: 400 "Invalid request body" without reasons, 415 for another content type.
The controller has one pending request; "nothing stored" means it stays pending, its execution
keeps waiting and the database holds the same rows.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from controller.approval.decisions import FIELD_LIMITS
from controller.core.config import DEFAULTS
from controller.core.text import HIDDEN
from emulator.apigateway.gateway import MAX_PAYLOAD_BYTES
from harness import peek
from harness.controllers import ServedController, controller_config
from harness.emulator import Emulator
from harness.orders import ORDER
from harness.stacks import Api, Stack, make_api, make_stack

ALLOWED_FIELDS = {"approve": ("approver", "comment"), "reject": ("approver", "comment", "reason")}
JSON_TYPES: dict[str, Any] = {"string": str, "object": dict, "array": list, "integer": int, "number": (int, float)}
TYPED_FIELDS: dict[tuple[str | int, ...], str] = {
    ("order_id",): "string",
    ("customer",): "object",
    ("customer", "id"): "string",
    ("customer", "name"): "string",
    ("customer", "email"): "string",
    ("items",): "array",
    ("items", 0): "object",
    ("items", 0, "sku"): "string",
    ("items", 0, "quantity"): "integer",
    ("items", 0, "unit_price"): "number",
    ("currency",): "string",
    ("requested_by",): "string",
}

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
non_ascii_text = st.text(min_size=1, max_size=64).filter(lambda text: not text.isascii())
not_json_content_types = st.sampled_from(
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/octet-stream",
    ]
) | st.from_regex(r"\A[a-z]{1,12}/[a-z0-9.-]{1,20}\Z").filter(lambda mime: mime != "application/json")

pytestmark = pytest.mark.both_sign_in_modes  # the tests of a waiting controller, open and signed in


def checked(max_examples: int) -> settings:
    """Hypothesis settings for tests over HTTP: bounded examples, no deadline, no example database on disk."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def has_json_type(value: Any, json_type: str) -> bool:
    """Tell whether value has the JSON Schema draft-4 type (booleans are not numbers, 2.0 is not an integer)."""
    return isinstance(value, JSON_TYPES[json_type]) and not isinstance(value, bool)


def with_value(order: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """Return a copy of order with the value at path replaced."""
    changed = copy.deepcopy(order)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def executions_of(emulator: Emulator, state_machine_arn: str) -> int:
    pages = (
        emulator.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    )
    return sum(len(page["executions"]) for page in pages)


def post_order(
    emulator: Emulator, data: bytes | str, content_type: str | None = "application/json"
) -> requests.Response:
    headers = {"x-api-key": emulator.outputs["api_key"]}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(emulator.outputs["api_url"], data=data, headers=headers, timeout=30)


def refused_and_nothing_started(
    emulator: Emulator, data: bytes | str, content_type: str | None = "application/json", status: int = 400
) -> dict[str, Any]:
    """POST the body to /start/workflow; assert `status` with a JSON message and no new execution; return it."""
    before = executions_of(emulator, emulator.outputs["state_machine_arn"])
    response = post_order(emulator, data, content_type)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["message"], answer
    assert executions_of(emulator, emulator.outputs["state_machine_arn"]) == before
    return answer


# --- /start/workflow -------------------------------------------------------------------------


@checked(40)
@given(path=st.sampled_from(list(TYPED_FIELDS)), data=st.data())
def test_a_field_of_the_wrong_type_gets_400_and_starts_nothing(
    emulator: Emulator, path: tuple, data: st.DataObject
) -> None:
    json_type = TYPED_FIELDS[path]
    value = data.draw(json_values.filter(lambda candidate: not has_json_type(candidate, json_type)), label="value")

    answer = refused_and_nothing_started(emulator, json.dumps(with_value(ORDER, path, value)))

    assert answer == {"message": "Invalid request body"}


@checked(25)
@given(field=st.sampled_from(["order_id", "currency"]), text=non_ascii_text)
@example(field="order_id", text="ORD-東京")
@example(field="currency", text="€UR")
def test_unicode_where_the_schema_allows_only_ascii_gets_400_and_starts_nothing(
    emulator: Emulator, field: str, text: str
) -> None:
    answer = refused_and_nothing_started(emulator, json.dumps({**ORDER, field: text}, ensure_ascii=False).encode())

    assert answer == {"message": "Invalid request body"}


@checked(20)
@given(
    body=st.text(alphabet=" \t\r\n", max_size=8), content_type=st.sampled_from(["application/json", "text/plain", None])
)
def test_an_empty_or_blank_body_gets_400_or_415_and_starts_nothing(
    emulator: Emulator, body: str, content_type: str | None
) -> None:
    # No Content-Type is taken as JSON, as API Gateway does; text/plain has no request template.
    status = 415 if content_type == "text/plain" else 400
    refused_and_nothing_started(emulator, body, content_type, status=status)


@checked(20)
@given(content_type=not_json_content_types)
def test_a_valid_order_in_another_content_type_gets_415_and_starts_nothing(
    emulator: Emulator, content_type: str
) -> None:
    answer = refused_and_nothing_started(emulator, json.dumps(ORDER), content_type, status=415)

    assert answer == {"message": "Unsupported Media Type"}


@checked(15)
@given(
    body=st.sampled_from(['{"order_id": NaN}', "[Infinity]", '{"order_id": "\\ud800"}', '"\\udfff"', "{", "\xff"])
    | st.integers(2_000, 120_000).map(lambda depth: "[" * depth + "]" * depth)
    | st.binary(min_size=1, max_size=40).filter(lambda raw: not is_json(raw))
)
def test_a_body_that_is_not_strict_json_gets_400_and_starts_nothing(emulator: Emulator, body: str | bytes) -> None:
    answer = refused_and_nothing_started(emulator, body)

    assert answer == {"message": "Invalid request body"}


@checked(3)
@given(padding=st.sampled_from(["x", "é", "東", "🚀"]), extra=st.integers(1, 64 * 1024))
def test_a_body_over_the_api_gateway_payload_limit_gets_413_and_starts_nothing(
    emulator: Emulator, padding: str, extra: int
) -> None:
    repeat = -(-(MAX_PAYLOAD_BYTES + extra) // len(padding.encode()))
    body = json.dumps({**ORDER, "customer": {"id": "C-1", "name": padding * repeat}}, ensure_ascii=False).encode()

    refused_and_nothing_started(emulator, body, status=413)


@pytest.fixture(scope="module")
def own_api(emulator: Emulator) -> tuple[Api, Stack]:
    """The stack's REST API on a state machine of its own, so valid orders start nothing on the main one."""
    stack = make_stack(emulator)
    return make_api(emulator, stack.state_machine_arn), stack


@checked(10)
@given(
    customer_id=st.text(min_size=1, max_size=64),
    name=st.text(min_size=1, max_size=200),
    sku=st.text(min_size=1, max_size=64),
)
@example(customer_id="C-1", name="Zoë 東京 🚀", sku="BOOK-1")
def test_any_unicode_text_in_free_text_fields_is_accepted_and_reaches_the_execution_unchanged(
    own_api: tuple[Api, Stack], customer_id: str, name: str, sku: str
) -> None:
    api, stack = own_api
    order = {**ORDER, "customer": {"id": customer_id, "name": name}, "items": [{**ORDER["items"][0], "sku": sku}]}

    response = requests.post(
        api.url,
        data=json.dumps(order, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "x-api-key": api.key},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert json.loads(stack.describe(response.json()["name"])["input"]) == order


# --- the controller ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def waiting(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory, sign_in: Callable[[Path | str], str | None]
) -> Iterator[tuple[ServedController, Stack, str]]:
    """A controller with exactly one pending request: (controller, its stack, the request's id); open or signed in."""
    stack = make_stack(emulator)
    database = tmp_path_factory.mktemp("bad-input") / "approvals.sqlite3"
    controller = ServedController(controller_config(stack.emulator, stack.queue_url, database), sign_in(database))
    name = stack.start()
    controller.wait_for_pending(name)
    yield controller, stack, name
    controller.stop()


def stored_rows(controller: ServedController) -> list[tuple]:
    """Every stored request and set-aside message, as plain tuples."""
    database = controller.app.config["DATABASE"]
    requests_ = peek.query(database, "SELECT * FROM approval_requests ORDER BY id")
    messages = peek.query(database, "SELECT message_id, reason FROM invalid_messages ORDER BY message_id")
    return [tuple(row) for row in requests_] + [tuple(row) for row in messages]


def bad_decision_bodies(kind: str) -> st.SearchStrategy[bytes]:
    """Bodies /approve or /reject must refuse: not an object, unknown fields, wrong types, too long, not JSON."""
    allowed = ALLOWED_FIELDS[kind]
    field = st.sampled_from(allowed)
    as_json = lambda value: json.dumps(value, ensure_ascii=False).encode()  # noqa: E731
    return st.one_of(
        json_values.filter(lambda value: not isinstance(value, dict)).map(as_json),
        st.dictionaries(
            st.text(max_size=12).filter(lambda key: key not in allowed), json_values, min_size=1, max_size=3
        ).map(as_json),
        st.builds(
            lambda name, value: as_json({name: value}),
            field,
            json_values.filter(lambda value: not isinstance(value, str)),
        ),
        st.builds(
            lambda name, char, extra: as_json({name: char * (FIELD_LIMITS[name] + extra)}),
            field,
            st.sampled_from("xé東🚀"),
            st.integers(1, 300_000),
        ),
        st.builds(lambda name, code: f'{{"{name}": "ok \\u{code:04x}"}}'.encode(), field, st.integers(0xD800, 0xDFFF)),
        st.builds(
            lambda name, before, hidden: as_json({name: before + hidden}),
            field,
            st.text(max_size=5).filter(lambda text: not HIDDEN.search(text)),
            st.sampled_from("\x00\x07\x1b\x7f\x85\u202e\u2066\u200f"),
        ),
        st.integers(2_000, 120_000).map(lambda depth: b"[" * depth + b"]" * depth),
        st.binary(min_size=1, max_size=40).filter(lambda raw: not is_json(raw)),
        st.text(alphabet=" \t\r\n", min_size=1, max_size=8).map(str.encode),
    )


@checked(60)
@given(
    call=st.sampled_from(["approve", "reject"]).flatmap(
        lambda kind: st.tuples(st.just(kind), st.booleans(), bad_decision_bodies(kind))
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", None]),
)
@example(call=("approve", True, b'{"approver": "\\ud800"}'), content_type="application/json")
@example(call=("reject", False, b"[" * 100_000 + b"]" * 100_000), content_type="application/json")
@example(call=("reject", True, '{"reason": "lun\u202eRTL"}'.encode()), content_type="application/json")
def test_a_bad_decision_body_gets_400_or_413_and_the_request_stays_pending(
    waiting: tuple[ServedController, Stack, str], call: tuple[str, bool, bytes], content_type: str | None
) -> None:
    controller, stack, name = waiting
    kind, named, body = call
    before = stored_rows(controller)

    response = requests.post(
        controller.url + (f"/{kind}/{name}" if named else f"/{kind}"),
        data=body,
        headers={**controller.headers, **({} if content_type is None else {"Content-Type": content_type})},
        timeout=30,
    )

    too_large, undeclared = len(body) > DEFAULTS["MAX_BODY_BYTES"], content_type != "application/json"
    expected = (413, "RequestEntityTooLarge") if too_large else (415, "UnsupportedMediaType") if undeclared else None
    assert (response.status_code, response.json()["error"]) == (expected or (400, "InvalidInput")), response.text
    assert response.json()["message"]
    assert stored_rows(controller) == before
    assert [request["id"] for request in controller.get("/pending").json()["pending"]] == [name]
    assert stack.describe(name)["status"] == "RUNNING"


@checked(40)
@given(limit=st.text(max_size=6).filter(lambda raw: not (re.fullmatch(r"[0-9]{1,4}", raw) and 1 <= int(raw) <= 1000)))
@example(limit="²")
@example(limit="١٢")
@example(limit="9" * 5000)
@example(limit="1001")
def test_a_limit_that_is_not_a_whole_number_from_1_to_1000_gets_400(
    waiting: tuple[ServedController, Stack, str], limit: str
) -> None:
    controller, _, _ = waiting

    response = requests.get(
        controller.url + "/pending", params={"limit": limit}, headers=controller.headers, timeout=30
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidInput" and "'limit'" in response.json()["message"]


@checked(8)
@given(limit=st.integers(1, 1000), zeros=st.integers(0, 3))
def test_a_limit_from_1_to_1000_in_ascii_digits_is_accepted(
    waiting: tuple[ServedController, Stack, str], limit: int, zeros: int
) -> None:
    controller, _, name = waiting
    digits = str(limit).zfill(min(4, len(str(limit)) + zeros))

    response = requests.get(
        controller.url + "/pending", params={"limit": digits}, headers=controller.headers, timeout=30
    )

    assert response.status_code == 200, response.text
    assert [request["id"] for request in response.json()["pending"]] == [name]


def test_a_unicode_order_and_approver_round_trip_from_start_workflow_to_the_decision(
    emulator: Emulator, tmp_path: Path
) -> None:
    main = Stack(emulator, emulator.outputs["approval_queue_url"], emulator.outputs["state_machine_arn"])
    controller = ServedController(
        {
            "CONFIG_SOURCE": "emulator",
            "APPROVAL_QUEUE_URL": main.queue_url,
            "AWS_ENDPOINT_URL": emulator.outputs["aws_endpoint_url"],
            "AWS_REGION": emulator.outputs["aws_region"],
            "DATABASE": str(tmp_path / "approvals.sqlite3"),
            "PULL_WAIT_SECONDS": 0,
        }
    )
    order = {
        **ORDER,
        "customer": {"id": "C-ü", "name": "Zoë 東京 🚀"},
        "items": [{"sku": "ÉTÉ-🌞", "quantity": 1, "unit_price": 9.5}],
    }
    try:
        started = post_order(emulator, json.dumps(order, ensure_ascii=False).encode())
        assert started.status_code == 200, started.text
        name = started.json()["name"]
        pending = controller.wait_for_pending(name)
        decided = controller.post(f"/approve/{name}", {"approver": "Zoë 東京 🚀", "comment": "très bien ✓"})
        looked_up = controller.get(f"/approvals/{name}").json()
    finally:
        controller.stop()

    assert pending["order"]["customer"] == order["customer"] and pending["order"]["items"][0]["sku"] == "ÉTÉ-🌞"
    assert decided.status_code == 200, decided.text
    assert (decided.json()["approver"], decided.json()["comment"]) == ("Zoë 東京 🚀", "très bien ✓")
    assert looked_up["request"]["approver"] == "Zoë 東京 🚀"
    execution = main.wait_until_finished(name)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["approval"]["approver"] == "Zoë 東京 🚀"
