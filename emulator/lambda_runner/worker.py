"""One warm Lambda worker: imports a handler once, then runs one event per input line.

Protocol: each stdin line is a JSON event; each stdout line is
{"ok": true, "result": ...} or {"ok": false, "error": {errorType, errorMessage, stackTrace}}.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
import uuid
from types import SimpleNamespace


def _lambda_error(exc: BaseException) -> dict[str, object]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        # the worker's own frame is not the function's
        "stackTrace": traceback.format_tb(exc.__traceback__.tb_next if exc.__traceback__ else None),
    }


def main(code_dir: str, handler_spec: str, function_name: str) -> None:
    """Serve events for one function until stdin closes."""
    protocol = sys.stdout
    sys.stdout = sys.stderr  # the handler's prints must not corrupt the protocol
    sys.path.insert(0, code_dir)
    module_name, _, function = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function)
    except Exception as exc:  # an import failure is reported on every call, as Lambda does
        init_error = _lambda_error(exc)
        init_error["errorType"] = "Runtime.ImportModuleError"
        handler = None
    for line in sys.stdin:
        context = SimpleNamespace(function_name=function_name, aws_request_id=str(uuid.uuid4()))
        if handler is None:
            reply = {"ok": False, "error": init_error}
        else:
            try:
                reply = {"ok": True, "result": handler(json.loads(line), context)}
            except Exception as exc:
                reply = {"ok": False, "error": _lambda_error(exc)}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
