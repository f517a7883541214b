"""AWS integrations of a REST API: the rendered request goes to the emulator's AWS endpoint, as API Gateway sends it.

An AWS integration's uri `arn:<partition>:apigateway:<region>:<service>:action/<Action>` is a call of
that service's API with the rendered template as its body. The call is signed for the region in the
uri (moto takes the region from the signature); the integration's role is not assumed.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIMEOUT_SECONDS = 29  # API Gateway's integration timeout
_ACTION_URI = re.compile(r"arn:[\w-]+:apigateway:(?P<region>[\w-]+):(?P<service>[\w-]+):action/(?P<action>\w+)")
# Services of the JSON protocol this emulator can reach: the signing name and the X-Amz-Target prefix.
_JSON_SERVICES = {"states": ("states", "AWSStepFunctions", "application/x-amz-json-1.0")}
_CREDENTIALS = Credentials("testing", "testing")


class IntegrationNotEmulated(Exception):
    """The integration's type or service is one this emulator does not call."""


class IntegrationTimeout(Exception):
    """The service did not answer within API Gateway's integration timeout."""


@dataclass(frozen=True)
class IntegrationResult:
    """What the service answered: status code, body, content type."""

    status: int
    body: str
    content_type: str


def call_aws_action(uri: str, body: str, endpoint_url: str) -> IntegrationResult:
    """Call `action/<Action>` of the uri's service at the emulator's endpoint with this body."""
    match = _ACTION_URI.fullmatch(uri)
    if match is None or match["service"] not in _JSON_SERVICES:
        raise IntegrationNotEmulated(f"AWS integration {uri!r} is not emulated (only states:action/*)")
    signing_name, target_prefix, content_type = _JSON_SERVICES[match["service"]]
    request = AWSRequest(
        method="POST",
        url=endpoint_url + "/",
        data=body.encode(),
        headers={"Content-Type": content_type, "X-Amz-Target": f"{target_prefix}.{match['action']}"},
    )
    SigV4Auth(_CREDENTIALS, signing_name, match["region"]).add_auth(request)
    prepared = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as answer:
            return IntegrationResult(answer.status, answer.read().decode(), answer.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as error:
        return IntegrationResult(error.code, error.read().decode(), error.headers.get("Content-Type", ""))
    except TimeoutError as error:
        raise IntegrationTimeout(str(error)) from error
