"""Debian's nginx as a plain reverse proxy in front of one or more controllers, run as a child process;
and clients as an attacker plays them: from several local addresses, or sending half a request.

Its configuration, logs and temporary files live in a directory of the caller's; it listens on a
free loopback port and forwards as the operations guide recommends: the public Host, the client's
address appended to X-Forwarded-For, the scheme in X-Forwarded-Proto, and no buffering (so that
/events streams). The system's nginx service is never touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from harness.emulator import stop
from harness.waiting import free_port, wait_for

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
START_SECONDS = 15
FORWARDING = {
    "Host": "$http_host",
    "X-Forwarded-For": "$proxy_add_x_forwarded_for",
    "X-Forwarded-Proto": "$scheme",
    "X-Forwarded-Host": "$http_host",
}


@dataclass
class Proxy:
    """A running nginx: where it listens, and its process."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    error_log: Path


def nginx_config(workdir: Path, port: int, upstreams: Sequence[str], headers: Mapping[str, str]) -> str:
    """Return an nginx.conf that proxies 127.0.0.1:port to the upstreams (host:port), round-robin."""
    servers = "".join(f"        server {upstream};\n" for upstream in upstreams)
    sets = "".join(f"            proxy_set_header {name} {value};\n" for name, value in headers.items())
    temp = "".join(
        f"    {kind}_temp_path {workdir / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process off;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    access_log {workdir / "access.log"};
{temp}    upstream controllers {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://controllers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
{sets}        }}
    }}
}}
"""


@contextmanager
def running_proxy(
    workdir: Path, upstreams: Sequence[str], extra_headers: Mapping[str, str] | None = None
) -> Iterator[Proxy]:
    """Run nginx in front of the upstreams ("127.0.0.1:PORT") until the block ends.

    extra_headers are set on every forwarded request besides the usual forwarding headers (an SSO
    proxy's user header, say); a value is an nginx expression, so a literal needs quoting.
    """
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx; .ci/run does it)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(workdir, port, upstreams, {**FORWARDING, **(extra_headers or {})}))
    with (workdir / "nginx.out").open("w") as log:
        process = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    proxy = Proxy(f"http://127.0.0.1:{port}", port, process, workdir / "error.log")
    try:
        wait_for(lambda: _answers(proxy), START_SECONDS, f"nginx on port {port} (see {workdir})")
        yield proxy
    finally:
        stop(process)


class _FromAddress(HTTPAdapter):
    """Connects from a given local address, so that one machine can play several clients."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    """Return a session whose connections come from `address` (any of 127.0.0.0/8 on Linux); close it after."""
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def half_requests(url: str, count: int) -> list[socket.socket]:
    """Open connections that each send the start of a request's headers and then nothing; close them after."""
    parts = urlsplit(url)
    opened = []
    for _ in range(count):
        connection = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
        connection.sendall(f"GET /pending HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode())
        opened.append(connection)
    return opened


def _answers(proxy: Proxy) -> bool:
    if proxy.process.poll() is not None:
        raise RuntimeError(f"nginx exited: {proxy.error_log.read_text()[-2000:] if proxy.error_log.exists() else ''}")
    try:
        requests.get(proxy.url + "/health", timeout=2)
    except requests.ConnectionError:
        return False
    return True
