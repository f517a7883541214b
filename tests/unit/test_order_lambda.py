"""The order Lambda on its own: the schema's rules, pricing, and the errors the state machine catches."""

from __future__ import annotations

import importlib.util
import logging
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from harness.orders import ORDER
from stack.lambda_package import build_payload
from stack.paths import LAMBDA_SOURCE_DIR

spec = importlib.util.spec_from_file_location("order_function", LAMBDA_SOURCE_DIR / "function.py")
function = importlib.util.module_from_spec(spec)
spec.loader.exec_module(function)


def test_a_valid_order_is_priced_and_marked_processed():
    processed = function.handler(ORDER, None)

    assert [line["line_total"] for line in processed["items"]] == [25.0, 3.0]
    assert (processed["total"], processed["currency"], processed["status"]) == (28.0, "EUR", "PROCESSED")


def test_prices_are_rounded_to_cents_without_float_drift():
    order = {**ORDER, "items": [{"sku": "A", "quantity": 3, "unit_price": 0.1}], "currency": "USD"}

    assert function.handler(order, None)["total"] == 0.3


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({}, "order.order_id is required"),
        ({**ORDER, "items": []}, "order.items needs at least 1 entries"),
        (
            {**ORDER, "items": [{"sku": "A", "quantity": True, "unit_price": 1}]},
            "order.items[0].quantity must be of type integer",
        ),
        (
            {**ORDER, "items": [{"sku": "A", "quantity": 0, "unit_price": 1}]},
            "order.items[0].quantity is outside the allowed range",
        ),
        ({**ORDER, "currency": "euro"}, "order.currency does not match the pattern"),
        ({**ORDER, "coupon": "FREE"}, "order.coupon is not an allowed field"),
        ({**ORDER, "items": ORDER["items"] * 2}, "lists SKU BOOK-1, PEN-7 more than once"),
        ({**ORDER, "items": [{"sku": "A", "quantity": 10000, "unit_price": 1000}]}, "above the limit of 1000000"),
        (
            {**ORDER, "items": [{"sku": "A", "quantity": 1, "unit_price": float("nan")}]},
            "unit_price must be a finite number",
        ),
        ("not an order", "order must be of type object"),
    ],
)
def test_an_order_that_breaks_a_rule_raises_invalid_order(order, message):
    with pytest.raises(function.InvalidOrder, match=message.replace("[", r"\[").replace("]", r"\]")):
        function.handler(order, None)


def test_the_payload_is_byte_for_byte_reproducible(tmp_path):
    first = build_payload(tmp_path / "first.zip").read_bytes()
    second = build_payload(tmp_path / "second.zip").read_bytes()

    assert first == second
    assert sorted(zipfile.ZipFile(tmp_path / "first.zip").namelist()) == ["function.py", "order.schema.json"]


def test_each_order_logs_one_structured_line_with_its_outcome(caplog):
    caplog.set_level(logging.INFO, logger="order")

    function.handler(ORDER, None)
    with pytest.raises(function.InvalidOrder):
        function.handler({**ORDER, "items": []}, None)

    processed, refused = caplog.records
    assert (processed.order_id, processed.outcome, processed.total, processed.items) == (
        "ORD-1001",
        "processed",
        28.0,
        2,
    )
    assert (refused.order_id, refused.outcome) == ("ORD-1001", "invalid")
    assert "at least 1 entries" in refused.reason


# Values of every JSON type, so that generated orders are wrong in every way a caller can be.
ANY_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 20_000),
    st.floats(-10, 2_000_000, allow_nan=False),
    st.text(max_size=70),
)


def either(valid: st.SearchStrategy, wrong_too: bool) -> st.SearchStrategy:
    return st.one_of(valid, valid, ANY_SCALAR) if wrong_too else valid


def orders(wrong_too: bool) -> st.SearchStrategy:
    """Orders built field by field from the schema's rules; with wrong_too, any field may break them."""
    extra = {"unexpected": ANY_SCALAR} if wrong_too else {}
    item = st.fixed_dictionaries(
        {
            "sku": either(st.text(min_size=1, max_size=64), wrong_too),
            "quantity": either(st.integers(1, 10_000), wrong_too),
            "unit_price": either(st.floats(0, 1_000_000) | st.integers(0, 1_000_000), wrong_too),
        },
        optional=extra,
    )
    customer = st.fixed_dictionaries(
        {
            "id": either(st.text(min_size=1, max_size=64), wrong_too),
            "name": either(st.text(min_size=1, max_size=200), wrong_too),
        },
        optional={"email": either(st.from_regex(r"\A[a-z]{1,10}@[a-z]{1,10}\.org\Z"), wrong_too), **extra},
    )
    order = st.fixed_dictionaries(
        {
            "order_id": either(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"), wrong_too),
            "customer": either(customer, wrong_too),
            "items": either(st.lists(item, min_size=1, max_size=5), wrong_too),
        },
        optional={"currency": either(st.from_regex(r"\A[A-Z]{3}\Z"), wrong_too), **extra},
    )
    return st.one_of(order, order, order, ANY_SCALAR, st.lists(ANY_SCALAR)) if wrong_too else order


@settings(max_examples=400, deadline=None)
@given(orders(wrong_too=True))
def test_the_lambdas_schema_check_agrees_with_jsonschema(event):
    by_jsonschema = not any(Draft4Validator(function.SCHEMA).iter_errors(event))
    by_lambda = not function.schema_errors(event, function.SCHEMA)

    assert by_lambda == by_jsonschema


@settings(max_examples=100, deadline=None)
@given(orders(wrong_too=False))
def test_orders_built_by_the_schemas_rules_pass_both_checks(event):
    assert not any(Draft4Validator(function.SCHEMA).iter_errors(event))
    assert not function.schema_errors(event, function.SCHEMA)
