"""python -m emulator: run the local AWS stand-in until interrupted."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from boto3.session import Session
from werkzeug.serving import make_server

from emulator import addresses, patches
from emulator.apigateway.gateway import create_gateway
from emulator.hosts import LocalOnly, local_moto_server
from emulator.lambda_runner import pool
from emulator.provision.stack import Deployment, provision
from stack.definition import load_stack, resource_name
from stack.paths import EMULATOR_OUTPUTS

REGION = "eu-west-1"
ADDRESSES_FILE = "local_addresses.json"  # next to the outputs: the REST API id and API key of every start
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="AWS endpoint port (default: 5000)")
    parser.add_argument("--api-port", type=int, default=4000, help="API Gateway port (default: 4000)")
    parser.add_argument("--outputs", type=Path, default=EMULATOR_OUTPUTS, help="where to write the stack outputs")
    parser.add_argument("--approval-timeout-seconds", type=int, help="override stack.json's approval timeout")
    parser.add_argument(
        "--empty",
        action="store_true",
        help="create no stack and serve no /start/workflow, for `terraform apply` to deploy into",
    )
    return parser.parse_args()


SENSITIVE_OUTPUTS = {"api_key"}  # as terraform/outputs.tf marks them


def write_outputs(path: Path, values: dict[str, str]) -> None:
    """Write outputs in the shape of `terraform output -json`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        key: {"sensitive": key in SENSITIVE_OUTPUTS, "type": "string", "value": value} for key, value in values.items()
    }
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(document, indent=2) + "\n")
    staging.replace(path)


def _refuse_busy_ports(host: str, ports: list[int]) -> None:
    """Exit with a message when a port is taken; moto's server would wait for it forever."""
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                sys.exit(
                    f"emulator: {host}:{port} is in use; stop what uses it or pick another with --port / --api-port"
                )


def _start_aws(args: argparse.Namespace) -> tuple[Any, str]:
    """Start moto's server with this project's patches and Lambda runner; return it and its endpoint."""
    os.environ["MOTO_PORT"] = str(args.port)  # the state machine interpreter calls back on this port
    patches.apply()
    pool.install()
    server = local_moto_server(args.host, args.port)  # loopback names only, no CORS
    server.start()
    return server, f"http://{args.host}:{args.port}"


def _outputs(args: argparse.Namespace, stack: Deployment, endpoint_url: str) -> dict[str, str]:
    return {
        "api_url": stack.api.path_url(f"http://{args.host}:{args.api_port}", load_stack()["api"]["path"]),
        "api_key": stack.api.api_key,
        "approval_queue_url": stack.approval_queue_url,
        "dead_letter_queue_url": stack.dead_letter_queue_url,
        "order_function_arn": stack.order_function_arn,
        "state_machine_arn": stack.state_machine_arn,
        "approvals_table_name": stack.approvals_table_name,
        **_where_it_serves(args, endpoint_url),
    }


def _where_it_serves(args: argparse.Namespace, endpoint_url: str) -> dict[str, str]:
    """The outputs an emulator has even when empty: its AWS endpoint, region and API gateway."""
    return {
        "aws_endpoint_url": endpoint_url,
        "aws_region": REGION,
        "api_gateway_url": f"http://{args.host}:{args.api_port}",
    }


def _stable_api_key(outputs: Path) -> str:
    """Give the built-in REST API the id kept next to the outputs; return the API key kept there."""
    try:
        kept = addresses.load_or_make(outputs.parent / ADDRESSES_FILE)
    except addresses.AddressesFileError as error:
        sys.exit(f"emulator: {error}")
    stack = load_stack()
    addresses.reserve_rest_api_id(REGION, resource_name(stack, "api", stack["name_prefix"]), kept.rest_api_id)
    return kept.api_key


def main() -> None:
    """Start moto and its API Gateway, create the stack, write the outputs, then wait."""
    args = _parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto.stepfunctions").setLevel(
        logging.CRITICAL
    )  # failed executions are results, not emulator faults
    _refuse_busy_ports(args.host, [args.port, args.api_port])
    aws, endpoint_url = _start_aws(args)
    # Empty, it still writes where it serves AWS, so tools (Terraform, the tests) can find it.
    outputs = _where_it_serves(args, endpoint_url)
    if not args.empty:
        session = Session(region_name=REGION, **FAKE_CREDENTIALS)
        stack = provision(session, endpoint_url, args.approval_timeout_seconds, _stable_api_key(args.outputs))
        outputs = _outputs(args, stack, endpoint_url)
    # the gateway serves whatever REST API moto holds: the built-in stack's, or one Terraform deployed
    gateway = make_server(args.host, args.api_port, LocalOnly(create_gateway(endpoint_url), args.host), threaded=True)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    write_outputs(args.outputs, outputs)
    print(f"emulator ready: AWS endpoint {endpoint_url}, outputs in {args.outputs}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, kill, a closed terminal
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    gateway.shutdown()
    pool.POOL.stop_all()
    aws.stop()
    args.outputs.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
