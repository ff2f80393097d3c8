"""A real CouchDB-compatible server for the couchdb cache tests: pouchdb-server (`make
node-packages` installs it under tests/couchdb), its databases in memory, on a free port, its
config and log files in a temp dir, killed at the end.

Debian has no CouchDB package; pouchdb-server speaks CouchDB's HTTP API (documents, inline and
stub attachments, revisions, ETags, `_all_docs`, database creation, admins and basic auth).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import urllib3

from tests.e2e.conftest import free_port
from tests.server_process import ServerProcess

POUCHDB_SERVER = (
    Path(__file__).parent / "couchdb" / "node_modules" / ".bin" / "pouchdb-server"
)
needs_pouchdb = pytest.mark.skipif(
    not POUCHDB_SERVER.exists(),
    reason="pouchdb-server missing: run `make node-packages` (npm ci in tests/couchdb)",
)


class CouchServer(ServerProcess):
    """pouchdb-server in memory on a free port, its files in `workdir`, at `url`; `get`/`put`
    are plain requests for the tests' checks."""

    def __init__(self, workdir: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.http = urllib3.PoolManager(retries=False, timeout=10)
        self.auth: dict[str, str] = {}
        workdir.mkdir(parents=True, exist_ok=True)
        self._start(
            [str(POUCHDB_SERVER), "--in-memory", "--port", str(port)],
            workdir,
            f"{self.url}/",
        )

    def _env(self) -> dict[str, str]:
        # node, which runs pouchdb-server, from wherever the environment finds it.
        return dict(os.environ)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.clear()
        super().__exit__(kind, exc, tb)

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
