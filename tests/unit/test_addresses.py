"""The emulator's kept addresses file: made once, read back the same, refused with a way out when broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import addresses


def test_addresses_are_made_once_and_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "local_addresses.json"

    made = addresses.load_or_make(path)

    assert addresses.load_or_make(path) == made
    assert len(made.api_key) >= 20 and len(made.rest_api_id) == 10


def test_a_deleted_file_gives_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "local_addresses.json"
    first = addresses.load_or_make(path)
    path.unlink()

    assert addresses.load_or_make(path).api_key != first.api_key


def test_an_edited_key_is_the_one_used(tmp_path: Path) -> None:
    path = tmp_path / "local_addresses.json"
    kept = addresses.load_or_make(path)
    path.write_text(json.dumps({"rest_api_id": kept.rest_api_id, "api_key": "my-own-key-of-24-chars!!"}))

    assert addresses.load_or_make(path).api_key == "my-own-key-of-24-chars!!"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not an addresses file"),
        ('{"rest_api_id": "abc"}', "not an addresses file"),
        ('{"rest_api_id": "abc", "api_key": "short"}', "api_key needs 20 characters"),
        ('{"rest_api_id": "ABC DEF", "api_key": "a-key-long-enough-to-use"}', "lowercase letters and digits"),
    ],
)
def test_a_broken_file_is_refused_with_what_to_do(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "local_addresses.json"
    path.write_text(content)

    with pytest.raises(addresses.AddressesFileError, match=message) as refused:
        addresses.load_or_make(path)

    assert "delete" in str(refused.value)
    assert path.read_text() == content
