"""Only local clients: a WSGI guard for the emulator's servers (the AWS endpoint and the API stand-in).

The emulator checks no credentials, so whatever can send it a request can read task tokens from
the queue and decide behind the controller's back. A web page can, in two ways: through a host
name that resolves to 127.0.0.1 (DNS rebinding), and through CORS, which moto's server answers
for any origin. This guard answers only requests addressed to a loopback name,
refuses those a browser sends from another origin, and drops every CORS header from answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class LocalOnly:
    """Wrap a WSGI app: 400 for a Host outside loopback, 403 for a browser request from another origin."""

    def __init__(self, app: Any, bind_host: str = "127.0.0.1") -> None:
        self.app = app
        self.names = {*LOOPBACK_NAMES, bind_host.lower()}  # a client may also name the address bound

    def _allowed(self, netloc: str, port: str) -> bool:
        return netloc.lower() in {f"{name}:{port}" for name in self.names}

    def _loopback_name(self, netloc: str) -> bool:
        # any port: a rebinding page needs a name of its own, while a local proxy in front changes the port
        name, _, port = netloc.lower().rpartition(":")
        return port.isdigit() and name in self.names

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        port = environ.get("SERVER_PORT", "")
        if not self._loopback_name(environ.get("HTTP_HOST", "")):
            return _refuse(start_response, "400 Bad Request", "This emulator answers to loopback names only.")
        origin, site = environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")
        if (origin is not None and not self._allowed(urlsplit(origin).netloc, port)) or site not in (
            None,
            "same-origin",
            "none",
        ):
            return _refuse(start_response, "403 Forbidden", "This emulator does not answer other sites' pages.")

        def without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(key, value) for key, value in headers if not key.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info)

        result: Iterable[bytes] = self.app(environ, without_cors)
        return result


def _refuse(start_response: Any, status: str, message: str) -> list[bytes]:
    body = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, [*headers, ("X-Content-Type-Options", "nosniff")])
    return [body]


def local_moto_server(host: str, port: int) -> Any:
    """Return moto's ThreadedMotoServer, not yet started, serving its app behind LocalOnly."""
    # imported after the emulator's patches, which they must see
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class LocalMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the app wrapped
            app = LocalOnly(DomainDispatcherApplication(create_backend_app), host)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return LocalMotoServer(ip_address=host, port=port, verbose=False)
