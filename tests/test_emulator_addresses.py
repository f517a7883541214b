"""The built-in stack keeps its REST API id and API key from one start of the emulator to the next."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests

from harness.emulator import running_emulator
from harness.orders import ORDER


def test_a_second_start_keeps_the_api_url_and_key_so_a_copied_call_still_starts_an_order(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as first:
        copied = first.outputs["api_url"], first.outputs["api_key"]
    with running_emulator(tmp_path) as second:
        api_url, api_key = second.outputs["api_url"], second.outputs["api_key"]
        # the same call; only the port differs, since these emulators take free ones
        answer = requests.post(api_url, json=ORDER, headers={"x-api-key": copied[1]}, timeout=30)

    assert (urlsplit(api_url).path, api_key) == (urlsplit(copied[0]).path, copied[1])
    assert answer.status_code == 200, answer.text
    assert (tmp_path / "local_addresses.json").is_file()
