"""Where the controller finds its queue and AWS endpoint: environment, emulator outputs, or Terraform."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from python_terraform import Terraform

from stack.paths import EMULATOR_OUTPUTS, INSTANCE_DIR, TERRAFORM_DIR

Setting = str | int | float | bool  # a CONTROLLER_* setting's value, of its default's type
DEFAULTS: dict[str, Setting] = {
    "STORE": "sqlite",  # or "dynamodb": the approvals table that any number of controllers share
    "DATABASE": str(INSTANCE_DIR / "approvals.sqlite3"),  # the SQLite store's file
    "DYNAMODB_TABLE": "",  # the DynamoDB store's table; empty: the stack's approvals_table_name
    "HOST": "127.0.0.1",
    "PORT": 3000,
    "BACKGROUND": True,  # a worker pulls the queue and checks executions while the server runs
    "PULL_WAIT_SECONDS": 20,  # the background pull's long poll; requests never wait for SQS
    "PULL_MAX_BATCHES": 10,
    "PULL_BATCH_SIZE": 10,
    "DEAD_LETTER_CHECK_SECONDS": 60,  # how often the dead-letter queue is looked at for approval requests
    "AWS_MAX_ATTEMPTS": 3,  # each AWS call, retries included; a hung endpoint costs at most this times the timeouts
    "AWS_CONNECT_TIMEOUT_SECONDS": 3.0,
    "AWS_READ_TIMEOUT_SECONDS": 5.0,  # an AWS answer takes milliseconds; the long poll adds its own wait to this
    # each check is a DescribeExecution per pending request; decisions find a stopped execution anyway
    "LIVENESS_CHECK_SECONDS": 300,
    "LIVENESS_PARALLEL": 4,
    "DECISION_PARALLEL": 8,  # Step Functions calls in flight at once for one bulk decision
    "NOTIFY_WEBHOOK_URL": "",  # POST each new request here (Slack-compatible JSON); empty: no notifications
    "PUBLIC_URL": "",  # the page's address in notifications; empty: http://HOST:PORT/
    "CLAIM_STALE_SECONDS": 300,  # longer than an AWS call with all its retries can take
    # on a shared store, how long one controller's round of a kind of background work is its own (docs/shared-store.md)
    "WORK_LEASE_SECONDS": 60.0,
    "PAGE_REFRESH_SECONDS": 5,
    "SECRET_KEY": "",  # signs the page's session cookie; empty: a random key per process
    "ALLOWED_HOSTS": "",  # names besides 127.0.0.1, localhost and [::1] the controller answers to, comma-separated
    "MAX_BODY_BYTES": 65536,  # a decision body is a few kB; larger bodies get 413
    "THREADS": 8,  # the production server's worker threads; at most half may wait on AWS, a quarter stream /events
    "CONNECTION_LIMIT": 1000,  # open connections the server accepts; beyond it, new ones wait in the kernel's queue
    "IDLE_TIMEOUT_SECONDS": 30,  # a connection with no request running and nothing sent or received is closed
    "SECURE_COOKIES": False,  # mark the session cookie Secure (the controller is reached over HTTPS)
    "SIGNIN_MAX_FAILURES": 5,  # failed sign-ins (per name and per address) before a lockout
    "SIGNIN_LOCKOUT_SECONDS": 300,
    # addresses (or networks) of reverse proxies in front, comma-separated: only their X-Forwarded-For is believed
    "TRUSTED_PROXIES": "",
    "TRUSTED_PROXY_HEADER": "",  # the header that proxy names the user in, e.g. X-Forwarded-Email
    "POLICY_FILE": "",  # approval rules (docs/approval-rules.md); empty: any approver decides a request alone
    "LOG_FORMAT": "text",  # or "json": one JSON object per line, for a log collector
    "METRICS_TOKEN": "",  # a bearer token that reads /metrics only (for Prometheus), besides users' tokens
}
STORES = ("sqlite", "dynamodb")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class ConfigurationError(RuntimeError):
    """The configuration is missing or wrong: the message says what to set."""


def _stack_outputs(environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Return (source, outputs) from the emulator's file, else from `terraform output -json`: the outputs that
    are text, which are all the controller reads (queues, endpoint, region, table)."""
    outputs_file = Path(environ.get("EMULATOR_OUTPUTS", EMULATOR_OUTPUTS))
    source, raw = "emulator", json.loads(outputs_file.read_text()) if outputs_file.is_file() else None
    if raw is None:
        try:
            source, raw = "terraform", Terraform(working_dir=str(TERRAFORM_DIR)).output()
        except OSError:  # terraform is not installed
            raw = None
    if raw:  # both sources have the shape of `terraform output -json`
        return source, {key: item["value"] for key, item in raw.items() if isinstance(item["value"], str)}
    raise ConfigurationError(
        "No approval queue configured: set APPROVAL_QUEUE_URL, start the emulator "
        "(python -m emulator), or deploy terraform/ so that `terraform output` has values."
    )


def _parsed(key: str, raw: str) -> Setting:
    """Return CONTROLLER_<key>'s value as the type of its default."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if raw.strip().lower() not in TRUE + FALSE:
            raise ConfigurationError(f"CONTROLLER_{key} must be true or false (1/0, yes/no, on/off).")
        return raw.strip().lower() in TRUE
    try:
        return type(default)(raw)
    except ValueError:
        raise ConfigurationError(f"CONTROLLER_{key} must be a {type(default).__name__}.") from None


def settings(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return the defaults overridden by CONTROLLER_* variables, without looking for a stack."""
    config = dict(DEFAULTS)
    for key in DEFAULTS:
        if f"CONTROLLER_{key}" in environ:
            config[key] = _parsed(key, environ[f"CONTROLLER_{key}"])
    return config


def check(config: Mapping[str, Any]) -> None:
    """Raise ConfigurationError for settings outside what SQS and the controller accept."""
    if not 1 <= config["PULL_BATCH_SIZE"] <= 10:
        raise ConfigurationError("CONTROLLER_PULL_BATCH_SIZE must be from 1 to 10, the range SQS allows.")
    if not 0 <= config["PULL_WAIT_SECONDS"] <= 20:
        raise ConfigurationError("CONTROLLER_PULL_WAIT_SECONDS must be from 0 to 20, the range SQS allows.")
    for key in (
        "PULL_MAX_BATCHES",
        "DEAD_LETTER_CHECK_SECONDS",
        "AWS_MAX_ATTEMPTS",
        "LIVENESS_PARALLEL",
        "DECISION_PARALLEL",
    ):
        if config[key] < 1:
            raise ConfigurationError(f"CONTROLLER_{key} must be at least 1.")
    if config["WORK_LEASE_SECONDS"] <= 0:
        raise ConfigurationError("CONTROLLER_WORK_LEASE_SECONDS must be more than 0.")
    for key in ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "IDLE_TIMEOUT_SECONDS"):
        if not 0 < config[key] <= 300:
            raise ConfigurationError(f"CONTROLLER_{key} must be more than 0 and at most 300.")
    if config["THREADS"] < 2:
        raise ConfigurationError("CONTROLLER_THREADS must be at least 2: one is always kept for requests without AWS.")
    if config["CONNECTION_LIMIT"] < 10:
        raise ConfigurationError("CONTROLLER_CONNECTION_LIMIT must be at least 10.")
    if config["STORE"] not in STORES:
        raise ConfigurationError("CONTROLLER_STORE must be sqlite (one controller) or dynamodb (a shared table).")
    if config["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigurationError("CONTROLLER_LOG_FORMAT must be text or json.")
    if config["METRICS_TOKEN"] and len(config["METRICS_TOKEN"]) < 32:
        raise ConfigurationError("CONTROLLER_METRICS_TOKEN must be at least 32 characters (openssl rand -hex 32).")
    if config["MAX_BODY_BYTES"] < 1024:
        raise ConfigurationError("CONTROLLER_MAX_BODY_BYTES must be at least 1024.")


def check_serving(config: Mapping[str, Any]) -> None:
    """Raise ConfigurationError for settings a serving controller cannot use; the commands that only use the
    store (users, migrate, copy) sign nothing, so they need no signing key."""
    check(config)
    if config["STORE"] == "dynamodb" and len(config["SECRET_KEY"]) < 32:
        # each controller's random key would sign sessions that the others refuse
        raise ConfigurationError(
            "CONTROLLER_STORE=dynamodb needs CONTROLLER_SECRET_KEY: the same value, at least 32 characters"
            " (openssl rand -hex 32), on every controller of the table, so that a session started on one is"
            " valid on the others."
        )


def load_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return the Flask config: defaults, then stack outputs, then CONTROLLER_*/AWS_* variables."""
    config = settings(environ)
    check_serving(config)
    config.update(_stack(environ))
    return _with_table(config)


def store_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return what the commands that only use the store need: the settings, and for DynamoDB where its table is.

    The stack's outputs name the table and endpoint whenever there are outputs, as they do for the controllers;
    with none, CONTROLLER_DYNAMODB_TABLE and AWS_REGION are enough.
    """
    config = settings(environ)
    check(config)
    if config["STORE"] == "sqlite":
        return config
    try:
        config.update(_stack(environ))  # the stack the controllers serve, whenever there is one
    except ConfigurationError:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if not (config["DYNAMODB_TABLE"] and region):
            raise
        return config | {
            "CONFIG_SOURCE": "environment",
            "AWS_ENDPOINT_URL": environ.get("AWS_ENDPOINT_URL"),
            "AWS_REGION": region,
        }
    return _with_table(config)


def _stack(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return where the stack is: its queues, AWS endpoint and region, and its approvals table if it has one."""
    if "APPROVAL_QUEUE_URL" in environ:
        return {
            "CONFIG_SOURCE": "environment",
            "APPROVAL_QUEUE_URL": environ["APPROVAL_QUEUE_URL"],
            "DEAD_LETTER_QUEUE_URL": environ.get("DEAD_LETTER_QUEUE_URL"),
            "AWS_ENDPOINT_URL": environ.get("AWS_ENDPOINT_URL"),
            "AWS_REGION": environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
            or _region_of(environ["APPROVAL_QUEUE_URL"]),
            "STACK_TABLE": "",
        }
    source, outputs = _stack_outputs(environ)
    return {
        "CONFIG_SOURCE": source,
        "APPROVAL_QUEUE_URL": outputs["approval_queue_url"],
        "DEAD_LETTER_QUEUE_URL": environ.get("DEAD_LETTER_QUEUE_URL") or outputs.get("dead_letter_queue_url"),
        "AWS_ENDPOINT_URL": outputs.get("aws_endpoint_url"),
        "AWS_REGION": outputs.get("aws_region")
        or environ.get("AWS_REGION")
        or _region_of(outputs["approval_queue_url"]),
        "STACK_TABLE": outputs.get("approvals_table_name") or "",
    }


def _with_table(config: dict[str, Any]) -> dict[str, Any]:
    """Name the DynamoDB store's table: CONTROLLER_DYNAMODB_TABLE, else the stack's; an error if neither has one."""
    stack_table = config.pop("STACK_TABLE")
    if config["STORE"] == "dynamodb" and not config["DYNAMODB_TABLE"]:
        if not stack_table:
            raise ConfigurationError(
                "CONTROLLER_STORE=dynamodb needs a table: set CONTROLLER_DYNAMODB_TABLE, or use a stack whose"
                " outputs have approvals_table_name (python -m emulator, or terraform/)."
            )
        config["DYNAMODB_TABLE"] = stack_table
    return config


def _region_of(queue_url: str) -> str | None:
    """Return the region in an AWS queue URL (https://sqs.REGION.amazonaws.com/...)."""
    match = re.match(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/", queue_url)
    return match.group(1) if match else None
