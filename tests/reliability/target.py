"""What the attack tests aim at: one configuration with every service on, a raw HTTP client that
sends bytes no polite client would, and a worker's memory, CPU and descriptors read from /proc."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import attrs
import yaml

# Both services' layers: a cached one (tiles, KML, demo) and one straight from the source.
CACHED_LAYER = "osm"
DIRECT_LAYER = "direct"


def attack_config(directory: Path, source_url: str, small_meta: bool = True) -> Path:
    """mapproxy.yaml in directory: WMS (with feature info and legends), WMTS (KVP and REST), TMS,
    KML and the demo over a real WMS source; cache and locks in directory/cache.

    small_meta: meta-tiles of one tile, so that each fetched tile is cheap (fuzzing is about
    parsing, not rendering); else MapProxy's defaults (4x4 tiles, 80 pixels buffer).
    """
    cache_dir = directory / "cache"
    source: dict[str, Any] = {
        "type": "wms",
        "req": {"url": f"{source_url}/service", "layers": "base"},
        "supported_srs": ["EPSG:3857", "EPSG:4326"],
        "wms_opts": {"featureinfo": True, "legendgraphic": True},
        "http": {"client_timeout": 5},
    }
    conf = {
        "services": {
            "demo": None,
            "kml": None,
            "tms": None,
            "wmts": None,
            "wms": {
                "srs": ["EPSG:3857", "EPSG:4326", "EPSG:900913"],
                "md": {"title": "Attack target"},
            },
        },
        "layers": [
            {"name": CACHED_LAYER, "title": "Cached", "sources": ["osm_cache"]},
            {"name": DIRECT_LAYER, "title": "Direct", "sources": ["upstream"]},
        ],
        "caches": {
            "osm_cache": {
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC"],
                "sources": ["upstream"],
                **({"meta_size": [1, 1], "meta_buffer": 0} if small_meta else {}),
            }
        },
        "sources": {"upstream": source},
        "globals": {
            "cache": {
                "base_dir": str(cache_dir),
                "lock_dir": str(cache_dir / "locks"),
                "lock_timeout": 5,
            }
        },
    }
    path = directory / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


@attrs.frozen
class RawAnswer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


def raw_request(port: int, head: bytes, timeout: float = 30) -> RawAnswer:
    """Send head (request line and headers, sent as given) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_answer(b"".join(chunks))


def parse_answer(data: bytes) -> RawAnswer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status, headers, body)


def get_request(target: str, host: str = "localhost") -> bytes:
    """A GET request for target (path and query, sent byte for byte) that closes the connection."""
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(
        "latin-1"
    )


def worker_pids(master: int, count: int, timeout: float = 30) -> list[int]:
    """The pids of a gunicorn master's workers, once count of them run."""
    deadline = time.monotonic() + timeout
    while True:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) >= count or time.monotonic() > deadline:
            return sorted(int(c) for c in children)
        time.sleep(0.1)


def status_kb(pid: int, field: str) -> int:
    """A /proc/pid/status figure in kB: VmRSS (resident now) or VmHWM (the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of pid, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime and stime are the 14th and 15th fields; 2 of them precede the split point.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
