"""python -m harness.crash_at EVENT: `python -m controller`, except that the process dies on the spot
(exit 137, no clean-up, as under SIGKILL) the moment one of its AWS clients reaches the botocore EVENT,
such as `before-call.sqs.DeleteMessageBatch` or `after-call.states.SendTaskSuccess`.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from controller.__main__ import configured_app, run

KILLED = 137


def die(**_: Any) -> NoReturn:
    os._exit(KILLED)


def main(event: str) -> None:
    app = configured_app()
    for client in app.extensions["aws"].values():
        client.meta.events.register(event, die)
    run(app)


if __name__ == "__main__":
    main(sys.argv[1])
