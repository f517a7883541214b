"""Debian's nginx as a reverse proxy in front of one or more controllers, run as a child process;
and clients as an attacker plays them: from several local addresses, or sending half a request.

nginx runs the configuration docs/load-balancing.md shows, read from that page (one copy: what the
docs show is what the tests run), with the test's controllers in its `upstream` and a free loopback
port in its `listen`. Its own files (configuration, logs, temporary files) live in a directory of the
caller's; the system's nginx service is never touched.
"""

from __future__ import annotations

import re
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
from stack.paths import PROJECT_ROOT

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
START_SECONDS = 15
GUIDE = PROJECT_ROOT / "docs" / "load-balancing.md"
UPSTREAM_SERVER = re.compile(r"^( +)server [^\s;]+;\n", re.MULTILINE)
LISTEN = re.compile(r"^( +)listen [^;]+;$", re.MULTILINE)
SERVER_HEADER = re.compile(r"^    proxy_set_header .*\n", re.MULTILINE)  # the server level's, not a location's


@dataclass
class Proxy:
    """A running nginx: where it listens, and its process."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    error_log: Path


def documented_site() -> str:
    """Return the nginx configuration docs/load-balancing.md shows (its one nginx block)."""
    blocks: list[str] = re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = blocks
    return block


def _found(pattern: re.Pattern[str], text: str, what: str) -> list[re.Match[str]]:
    matches = list(pattern.finditer(text))
    if not matches:
        raise ValueError(f"the nginx block of {GUIDE.name} has no {what} any more; harness/proxy.py fills those in")
    return matches


def site_config(port: int, upstreams: Sequence[str], headers: Mapping[str, str]) -> str:
    """Return the documented site with these upstreams (host:port), listening on 127.0.0.1:port, and these
    request headers set besides the documented ones."""
    site = documented_site()
    first = _found(UPSTREAM_SERVER, site, "upstream server line")[0]
    servers = "".join(f"{first.group(1)}server {upstream};\n" for upstream in upstreams)
    site = site[: first.start()] + servers + UPSTREAM_SERVER.sub("", site[first.start() :])
    (listen,) = _found(LISTEN, site, "listen line")
    site = f"{site[: listen.start()]}{listen.group(1)}listen 127.0.0.1:{port};{site[listen.end() :]}"
    after = _found(SERVER_HEADER, site, "proxy_set_header at the server level")[-1].end()
    extra = "".join(f"    proxy_set_header {name} {value};\n" for name, value in headers.items())
    return site[:after] + extra + site[after:]


def nginx_config(workdir: Path, site: Path) -> str:
    """Return an nginx.conf that runs in the foreground with its files in workdir and includes the site."""
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
{temp}    include {site};
}}
"""


@contextmanager
def running_proxy(
    workdir: Path, upstreams: Sequence[str], extra_headers: Mapping[str, str] | None = None
) -> Iterator[Proxy]:
    """Run nginx in front of the upstreams ("127.0.0.1:PORT") until the block ends.

    extra_headers are set on every forwarded request besides the documented ones (an SSO
    proxy's user header, say); a value is an nginx expression, so a literal needs quoting.
    """
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx; .ci/run does it)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site, config = workdir / "approvals.conf", workdir / "nginx.conf"
    site.write_text(site_config(port, upstreams, extra_headers or {}))
    config.write_text(nginx_config(workdir, site))
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
