"""Stable local addresses: the built-in REST API's id and its API key stay the same on every start.

They are made once, at random, and kept in a file next to the outputs (`.emulator/local_addresses.json`
for ./build_and_run.sh), so a curl, a script or a Postman collection copied from an earlier run keeps
working. Delete the file for a new key and REST API id at the next start, or edit its `api_key` (20
characters or more, as API Gateway requires) to choose the key.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from moto.apigateway.utils import ApigwRestApiIdentifier
from moto.utilities.id_generator import moto_id_manager

ACCOUNT = "123456789012"  # moto's default account, which the emulator serves
_ID_CHARACTERS = string.ascii_lowercase + string.digits  # a REST API id as API Gateway makes them
_KEY_CHARACTERS = string.ascii_letters + string.digits


class AddressesFileError(RuntimeError):
    """The addresses file cannot be used: the message says what to do."""


@dataclass(frozen=True)
class LocalAddresses:
    """The REST API id and API key the built-in stack gets."""

    rest_api_id: str
    api_key: str


def _made() -> LocalAddresses:
    return LocalAddresses(
        "".join(secrets.choice(_ID_CHARACTERS) for _ in range(10)),
        "".join(secrets.choice(_KEY_CHARACTERS) for _ in range(40)),
    )


def load_or_make(path: Path) -> LocalAddresses:
    """The addresses kept in path; made and kept there when it does not exist."""
    if not path.exists():
        made = _made()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rest_api_id": made.rest_api_id, "api_key": made.api_key}, indent=2) + "\n")
        return made
    try:
        kept = json.loads(path.read_text())
        addresses = LocalAddresses(str(kept["rest_api_id"]), str(kept["api_key"]))
    except (ValueError, KeyError, TypeError) as error:
        raise AddressesFileError(f"{path} is not an addresses file ({error}); delete it for new ones") from None
    if len(addresses.api_key) < 20 or set(addresses.rest_api_id) - set(_ID_CHARACTERS) or not addresses.rest_api_id:
        raise AddressesFileError(
            f"{path}: api_key needs 20 characters or more, rest_api_id lowercase letters and digits; "
            "fix them or delete the file for new ones"
        )
    return addresses


def reserve_rest_api_id(region: str, name: str, rest_api_id: str) -> None:
    """Have moto give the REST API of this name that id when it is created in this process."""
    moto_id_manager.set_custom_id(ApigwRestApiIdentifier(ACCOUNT, region, name), rest_api_id)
