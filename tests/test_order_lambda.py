"""The order Lambda on its own: the schema's rules, pricing, and the errors the state machine catches."""

from __future__ import annotations

import importlib.util
import zipfile

import pytest

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
