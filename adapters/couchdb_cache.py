"""Tiles as documents of a CouchDB database (`type: couchdb`), as MapProxy 7 writes them, so both
can share one database: a JSON document per tile (id from `tile_id`, metadata from
`tile_metadata`, the time of storing under `timestamp`) with the tile as its attachment `tile`.

A CouchDB that cannot be reached, or that answers with an error, fails the request that needed
it with a SourceError (502, or SourceTimeoutError and 504 after TIMEOUT seconds); a tile that
cannot be stored is still served (StoreError, logged once in a while).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import attrs

from adapters.couchdb_docs import TileDocs
from adapters.http_client import HttpClient, Response, describe_url
from adapters.store_failures import StoreFailures
from domain.errors import SourceError, StoreError
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

LOGGER = "mapproxy.cache.couchdb"
# Every request to CouchDB ends within this: a database that hangs is a 504, not a hung worker.
TIMEOUT = 5.0
PAGE = 500
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@attrs.define
class CouchDBCache:
    """The tiles of one cache in one grid, in database `db_name` of the CouchDB at `url` (which
    may hold `user:password@`: sent as basic auth, never logged or shown)."""

    url: str
    db_name: str
    docs: TileDocs
    # The tiles' file extension: their attachment's content type is `image/<ext>`.
    ext: str
    # Its own client (made by the composition root): TIMEOUT, requests logged on LOGGER.
    http: HttpClient
    clock: Callable[[], float] = time.time
    # Documents per request when a cleanup lists the stored tiles.
    page: int = PAGE
    _db_url: str = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)
    # Whether this process asked CouchDB to create the database yet (as MapProxy, once).
    _db_asked: bool = attrs.field(init=False, default=False)
    _db_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self._db_url = f"{self.url.rstrip('/')}/{quote(self.db_name, safe='')}"
        self._failures = StoreFailures(LOGGER, describe_url(self._db_url))

    @property
    def keeps_timestamps(self) -> bool:
        return True

    def _doc_url(self, doc_id: str) -> str:
        """Where the document `doc_id` is (with the URL's credentials)."""
        return f"{self._db_url}/{quote(doc_id, safe='')}"

    def load(self, coord: TileCoord) -> StoredTile | None:
        doc_id = self.docs.doc_id(coord)
        resp = self._request("GET", self._doc_url(doc_id) + "?attachments=true")
        if resp.status == 404:
            return None
        doc = self._json(resp, f"tile {doc_id}")
        try:
            data = base64.b64decode(doc["_attachments"]["tile"]["data"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            # Not a tile document (no `tile` attachment): a miss, replaced when stored.
            return None
        return StoredTile(coord, self._stored_at(doc), len(data), data=data)

    def store(self, tile: EncodedTile) -> None:
        doc_id = self.docs.doc_id(tile.coord)
        doc = self.docs.fields(tile.coord, self.clock()) | {
            "_id": doc_id,
            "_attachments": {
                "tile": {
                    "content_type": f"image/{self.ext}",
                    "data": base64.b64encode(tile.data).decode("ascii"),
                }
            },
        }
        body = json.dumps(doc).encode()
        url = self._doc_url(doc_id)
        try:
            self._create_db()
            resp = self._request("PUT", url, body)
            if resp.status == 409:
                # Stored before: replace that revision. A second conflict is another
                # worker's store of the same tile in between, as good as ours.
                rev = self._rev(url)
                if rev is not None:
                    resp = self._request(
                        "PUT", f"{url}?{urlencode({'rev': rev})}", body
                    )
            if resp.status == 404:
                self._db_asked = False  # dropped meanwhile: created again next time
            if resp.status not in (201, 202, 409):
                raise SourceError(f"CouchDB answered {resp.status}: {_reason(resp)}")
        except SourceError as exc:
            raise self._failures.failed(doc_id, exc) from exc
        self._failures.stored()

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile's document; StoreError (an OSError, as a file cache's) if CouchDB
        fails, so that a cleanup stops with an error line."""
        doc_id = self.docs.doc_id(coord)
        url = self._doc_url(doc_id)
        try:
            rev = self._rev(url)
            if rev is None:
                return False
            resp = self._request("DELETE", f"{url}?{urlencode({'rev': rev})}")
            if resp.status in (200, 202):
                return True
            if resp.status in (404, 409):  # removed or replaced by another worker
                return False
            raise self._error(resp, f"removing tile {doc_id}")
        except SourceError as exc:
            raise StoreError(f"tile {doc_id} not removed: {exc}") from exc

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """The tiles of this grid in `levels`, their time and size from the documents
        (attachments are not read); documents of other grids and caches are passed over.
        StoreError if CouchDB fails, as `remove`."""
        try:
            yield from self._stored_tiles(levels)
        except SourceError as exc:
            raise StoreError(f"tiles not listed: {exc}") from exc

    def _stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        start: str | None = None
        while True:
            query: dict[str, str | int] = {"include_docs": "true", "limit": self.page}
            if start is not None:
                # The next page: from the last id seen, without it.
                query |= {"startkey": json.dumps(start), "skip": 1}
            resp = self._request("GET", f"{self._db_url}/_all_docs?{urlencode(query)}")
            if resp.status == 404:
                return  # no database: no tiles
            rows = self._json(resp, "the list of tiles").get("rows", [])
            for row in rows:
                coord = self.docs.coord(row.get("id", ""))
                doc = row.get("doc") or {}
                if coord is not None and coord.z in levels:
                    size = doc.get("_attachments", {}).get("tile", {}).get("length", 0)
                    yield StoredTile(coord, self._stored_at(doc), int(size))
            if len(rows) < self.page:
                return
            start = rows[-1]["id"]

    def _create_db(self) -> None:
        if self._db_asked:
            return
        with self._db_lock:
            if not self._db_asked:
                # 201 made, 412 there already; any answer will do (a user who may not
                # create databases may still write to an existing one): the store says.
                self._request("PUT", self._db_url)
                self._db_asked = True

    def _rev(self, url: str) -> str | None:
        # From the document (its attachment as a stub), not the ETag of a HEAD: that is the
        # revision in CouchDB but not in every server that speaks its API (pouchdb-server).
        resp = self._request("GET", url)
        if resp.status == 404:
            return None
        rev = self._json(resp, "a tile's revision").get("_rev")
        if not isinstance(rev, str):
            raise SourceError(
                f"CouchDB cache {describe_url(self._db_url)}: a document without _rev"
            )
        return rev

    def _stored_at(self, doc: dict[str, Any]) -> float:
        stamp = doc.get(self.docs.timestamp_key)
        # A document without a time of storing (written by other tools) counts as new.
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            return float(stamp)
        return self.clock()

    def _request(self, method: str, url: str, body: bytes | None = None) -> Response:
        try:
            return self.http.request(method, url, body=body, headers=_JSON)
        except SourceError as exc:
            # Same class (a timeout stays a 504), saying which service failed.
            raise type(exc)(f"CouchDB cache: {exc}") from exc

    def _json(self, resp: Response, what: str) -> dict[str, Any]:
        if resp.status != 200:
            raise self._error(resp, f"reading {what}")
        try:
            doc = json.loads(resp.data)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise SourceError(
                f"CouchDB cache {describe_url(self._db_url)}: {what} is not a JSON object"
            )
        return doc

    def _error(self, resp: Response, doing: str) -> SourceError:
        return SourceError(
            f"CouchDB cache {describe_url(self._db_url)} answered {resp.status}"
            f" {doing}: {_reason(resp)}"
        )


def _reason(resp: Response) -> str:
    # CouchDB says why in {"error": ..., "reason": ...}; the body is not passed on as is.
    try:
        doc = json.loads(resp.data)
    except ValueError:
        return "no JSON answer"
    if not isinstance(doc, dict):
        return "no JSON answer"
    return f"{doc.get('error', '?')} ({doc.get('reason', '?')})"
