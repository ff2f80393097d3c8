"""A real CouchDB-compatible server for the couchdb cache tests: pouchdb-server (`make
node-packages` installs it under tests/couchdb), its databases in memory, on a free port, its
config and log files in a temp dir, killed at the end.

Debian has no CouchDB package; pouchdb-server speaks CouchDB's HTTP API (documents, inline and
stub attachments, revisions, ETags, `_all_docs`, database creation, admins and basic auth).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3

from tests.e2e.conftest import free_port

POUCHDB_SERVER = (
    Path(__file__).parent / "couchdb" / "node_modules" / ".bin" / "pouchdb-server"
)
needs_pouchdb = pytest.mark.skipif(
    not POUCHDB_SERVER.exists(),
    reason="pouchdb-server missing: run `make node-packages` (npm ci in tests/couchdb)",
)


@attrs.define
class CouchServer:
    """A running server at `url`; `get`/`put` are plain requests for the tests' checks."""

    url: str
    proc: subprocess.Popen[bytes]
    http: urllib3.PoolManager = attrs.field(
        factory=lambda: urllib3.PoolManager(retries=False, timeout=10)
    )
    auth: dict[str, str] = attrs.Factory(dict)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer to `method path` (with the admin's credentials once there is one)."""
        data = None if body is None else json.dumps(body).encode()
        resp = self.http.request(
            method,
            f"{self.url}{path}",
            body=data,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                **self.auth,
            },
        )
        return resp.status, json.loads(resp.data) if resp.data else None

    def get(self, path: str) -> Any:
        status, doc = self.request("GET", path)
        assert status == 200, (path, status, doc)
        return doc

    def doc_ids(self, db: str) -> list[str]:
        return [row["id"] for row in self.get(f"/{db}/_all_docs")["rows"]]

    def attachment(self, db: str, doc_id: str) -> bytes:
        resp = self.http.request(
            "GET", f"{self.url}/{db}/{doc_id}/tile", headers=self.auth
        )
        assert resp.status == 200, resp.data
        return resp.data

    def add_admin(self, user: str, password: str) -> None:
        """Ends the admin party: from now on only `user` may create databases."""
        status, _ = self.request("PUT", f"/_config/admins/{user}", password)
        assert status == 200
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}


@contextmanager
def couch_server(workdir: Path) -> Iterator[CouchServer]:
    """pouchdb-server in memory on a free port, its files in `workdir`."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "pouchdb-server.out"
    with log.open("wb") as out:
        # A log file, not a pipe: it logs every request and would fill a pipe and stall.
        proc = subprocess.Popen(
            [str(POUCHDB_SERVER), "--in-memory", "--port", str(port)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = CouchServer(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"pouchdb-server exited: {log.read_text()}")
            try:
                server.http.request("GET", f"{server.url}/", retries=False)
                break
            except urllib3.exceptions.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        server.http.clear()
        # Killed, not terminated: the data is in memory only.
        proc.kill()
        proc.wait()
