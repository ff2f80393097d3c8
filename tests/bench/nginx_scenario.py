"""The nginx scenario: cached WMTS tiles through nginx, four ways.

- `static`: nginx serving the cache's tile files with a plain `location` and `root`, the most
  any setup can reach on this machine;
- `fastpath`: nginx with the locations `tilegate nginx-fast-path` generates, in front of
  Tilegate's gunicorn: hits are files nginx finds itself, misses go to Tilegate;
- `TG proxy`, `MP proxy`: nginx `proxy_pass` to Tilegate's and to MapProxy's gunicorn, so that
  every request goes through Python.

Each variant is an nginx of its own (own process group, so its CPU is its own) with as many
worker processes as each gunicorn has workers, on a free 127.0.0.1 port, in `.bench/run/nginx/`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import attrs

from tests.bench import load, seeding, workload
from tests.bench.processes import (
    REPO,
    TILEGATE_BIN,
    BenchError,
    Processes,
    Server,
    free_port,
)

STATIC, FAST, TG_PROXY, MP_PROXY = "static", "fastpath", "TG proxy", "MP proxy"
VARIANTS = (STATIC, FAST, TG_PROXY, MP_PROXY)
SERVICE = "wmts"  # the fast path serves WMTS RESTful URLs only
CHECK_CONCURRENCY = 4

# The same frame for every variant, so that they differ only in their `server` block. As root,
# nginx's workers would drop to a user that cannot read the cache or write the temp dirs.
_FRAME = """\
{user}worker_processes {workers};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {home}/tmp/client_body;
    proxy_temp_path {home}/tmp/proxy;
    fastcgi_temp_path {home}/tmp/fastcgi;
    uwsgi_temp_path {home}/tmp/uwsgi;
    scgi_temp_path {home}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
{server}
    }}
}}
"""

_PROXY = """\
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
        }}
"""


@attrs.frozen
class Front:
    """One variant: its nginx and the gunicorn behind it (whose CPU counts as well)."""

    variant: str
    nginx: Server
    backend: Server | None

    @property
    def groups(self) -> tuple[int, ...]:
        """The process groups whose CPU the variant spends."""
        return tuple(s.proc.pid for s in (self.nginx, self.backend) if s is not None)


def start_fronts(
    procs: Processes,
    nginx: str,
    home: Path,
    tilegate: Server,
    tilegate_conf: Path,
    mapproxy: Server | None,
    workers: int,
) -> list[Front]:
    """Every variant's nginx (`MP proxy` only with a MapProxy), started and answering."""
    home.mkdir(parents=True, exist_ok=True)
    fast_conf = home / "fast-path.conf"
    cache_dir = _generate_fast_path(tilegate_conf, tilegate.url, fast_conf)
    # `root` maps the URL path onto a directory: make one whose tile directory is the cache's.
    prefix = f"wmts/{workload.LAYER}/GLOBAL_WEBMERCATOR"
    static_root = home / "static"
    (static_root / prefix).parent.mkdir(parents=True)
    (static_root / prefix).symlink_to(cache_dir, target_is_directory=True)
    servers = {
        STATIC: (
            f"        location /{prefix}/ {{\n"
            f"            root {static_root};\n"
            "            types { image/png png; }\n"
            "        }\n",
            None,
        ),
        FAST: (
            _PROXY.format(upstream=tilegate.url) + f"        include {fast_conf};\n",
            tilegate,
        ),
        TG_PROXY: (_PROXY.format(upstream=tilegate.url), tilegate),
    }
    if mapproxy is not None:
        servers[MP_PROXY] = (_PROXY.format(upstream=mapproxy.url), mapproxy)
    fronts = []
    for variant, (server, backend) in servers.items():
        fronts.append(
            Front(
                variant,
                _start_nginx(procs, nginx, home / _slug(variant), server, workers),
                backend,
            )
        )
    return fronts


def check_fronts(fronts: list[Front]) -> None:
    """Every tile through every variant is a PNG, and the fast path's are Tilegate's bytes."""
    paths = [t.path(SERVICE) for t in workload.cached_tiles()]
    bodies = {}
    for front in fronts:
        batch = load.fetch_all(front.nginx.url, paths, CHECK_CONCURRENCY)
        seeding.check_tiles(f"nginx {front.variant}", "fetching the tiles", batch)
        bodies[front.variant] = [a.body for a in batch.answers]
    if bodies[FAST] != bodies[TG_PROXY]:
        raise BenchError("nginx's fast path answers other bytes than Tilegate")


def _generate_fast_path(conf: Path, upstream: str, target: Path) -> Path:
    """Write Tilegate's fast-path locations to `target`; the cache directory they serve."""
    cmd = [
        str(TILEGATE_BIN / "tilegate"),
        "nginx-fast-path",
        "-f",
        str(conf),
        "--upstream",
        upstream,
        "-o",
        str(target),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise BenchError(f"tilegate nginx-fast-path failed: {done.stderr[-2000:]}")
    # The bench's one layer must be a fast location, or `fastpath` would only measure proxying.
    roots = re.findall(r"^\s*root (\S+);$", target.read_text(), re.MULTILINE)
    if len(roots) != 1:
        raise BenchError(
            f"tilegate nginx-fast-path serves {len(roots)} tile sets from files, expected the"
            f" bench layer's one:\n{done.stderr[-2000:]}"
        )
    return Path(roots[0])


def _start_nginx(
    procs: Processes, nginx: str, home: Path, server: str, workers: int
) -> Server:
    (home / "tmp").mkdir(parents=True)
    port = free_port()
    conf = home / "nginx.conf"
    conf.write_text(
        _FRAME.format(
            user="user root;\n" if os.geteuid() == 0 else "",
            workers=workers,
            home=home,
            port=port,
            server=server,
        )
    )
    cmd = [
        nginx,
        "-c",
        str(conf),
        "-p",
        str(home),
        "-e",
        str(home / "error.log"),
        "-g",
        f"daemon off; pid {home / 'nginx.pid'};",
    ]
    return procs.start(f"nginx ({home.name})", cmd, home / "nginx.out", home, port)


def _slug(variant: str) -> str:
    return variant.lower().replace(" ", "-")
