"""The unit tier runs without the emulator process: no test in tests/unit asks for it, not even through a fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_no_test_in_the_unit_tier_needs_the_emulator(request: pytest.FixtureRequest) -> None:
    asking = [
        item.nodeid
        for item in request.session.items
        if item.path.is_relative_to(HERE) and "emulator" in getattr(item, "fixturenames", ())
    ]

    assert asking == [], "these need the emulator process, so they belong in tests/, outside tests/unit/"
