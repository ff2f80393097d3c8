"""A real nginx (Debian's package) started by a test: its own config, prefix and free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, stop

NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None
)
needs_nginx = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (Debian: apt-get install nginx-light, see .ci/install-system-packages)",
)

_FRAME = """\
{user}worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}
    server {{
        listen 127.0.0.1:{port};
{server}
    }}
}}
"""


class Nginx:
    """nginx running `server` directives (and `http` ones above the server) in a tmp dir."""

    def __init__(self, directory: Path, server: str, http: str = "") -> None:
        assert NGINX is not None
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            _FRAME.format(
                # As root, workers would drop to nobody and could not read the tmp dirs.
                user="user root;\n" if os.geteuid() == 0 else "",
                tmp=directory,
                port=self.port,
                http=http,
                server=server,
            )
        )
        self.log = directory / "nginx-error.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        assert NGINX is not None
        pid = self.directory / "nginx.pid"
        return [
            NGINX,
            "-c",
            str(self.conf),
            "-p",
            str(self.directory),
            "-g",
            f"daemon off; pid {pid}; error_log {self.log} warn;",
            *extra,
        ]

    def start(self) -> Nginx:
        check = subprocess.run(self.command("-t"), capture_output=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr.decode()}")
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.errors()}")
            try:
                with urllib.request.urlopen(f"{self.url}/nginx-alive", timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self  # any HTTP answer: nginx is listening
            except OSError:
                time.sleep(0.05)
        stop(self.proc)
        raise TimeoutError("nginx did not start listening")

    def errors(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def close(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
