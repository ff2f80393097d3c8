"""Tiles as keys of a Redis database (`type: redis`), named as MapProxy 7 names them so both
can share one Redis: `<prefix>-<z>-<x>-<y>`, the tile's encoded bytes as the value.

Redis keeps no time of storing: a tile's age is read from what is left of its expiry
(`default_ttl`); a key that never expires is taken as stored now.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import attrs
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters import logs
from adapters.store_failures import StoreFailures
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

LOGGER = "mapproxy.cache.redis"
# A Redis that is down or hangs must not hold a request long: its tile comes from the source.
TIMEOUT = 5.0


@attrs.frozen
class RedisTls:
    """The files of a TLS connection: a client certificate with its key, and the CA that
    signed the server's certificate (None: the system's CAs)."""

    certfile: str | None = None
    keyfile: str | None = None
    ca_certs: str | None = None

    def check(self, where: str) -> None:
        """Load the files as the connection will, so that a missing or bad one is a
        configuration error at start (ConfigError naming its key under `where`), rather than a
        store that fails on every tile."""
        context = ssl.create_default_context()
        try:
            if self.certfile is not None:
                key = "ssl_certfile"
                context.load_cert_chain(self.certfile, self.keyfile)
            if self.ca_certs is not None:
                key = "ssl_ca_certs"
                context.load_verify_locations(self.ca_certs)
        except (OSError, ssl.SSLError) as exc:
            # SSLError's reason names the fault (KEY_VALUES_MISMATCH) without C file and line.
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            problem = f"cannot be used for TLS: {reason} @ {where}.{key}"
            raise ConfigError("configuration", [problem]) from exc


@attrs.define
class RedisCache:
    """The tiles of one cache in one grid, under `prefix` in database `db` of a Redis server."""

    host: str
    port: int
    prefix: str
    db: int = 0
    # Seconds a tile is kept; 0 keeps it until it is removed.
    ttl: int = 0
    username: str | None = None
    password: str | None = None
    tls: RedisTls | None = None
    clock: Callable[[], float] = time.time
    client: redis.Redis = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._failures = StoreFailures(
            LOGGER, f"redis://{self.host}:{self.port}/{self.db} {self.prefix}"
        )
        # One retry without waiting: a pooled connection that a Redis restart broke is
        # replaced at once, and a Redis that is down costs two refused connects, not the
        # client's default backoff of seconds.
        tls = self.tls
        self.client = redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            username=self.username,
            password=self.password,
            ssl=tls is not None,
            ssl_certfile=tls.certfile if tls else None,
            ssl_keyfile=tls.keyfile if tls else None,
            ssl_ca_certs=tls.ca_certs if tls else None,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=Retry(NoBackoff(), 1),
        )

    def key(self, coord: TileCoord) -> str:
        """The Redis key of the tile at `coord`."""
        return f"{self.prefix}-{coord.z}-{coord.x}-{coord.y}"

    def load(self, coord: TileCoord) -> StoredTile | None:
        key = self.key(coord)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.pttl(key)
                data, pttl = pipe.execute()
        except redis.RedisError as exc:
            # A miss: the tile is made again. Debug only, as the store that follows fails
            # too and warns, at most once a minute, where a warning per request would flood.
            logs.get_logger(LOGGER).debug(
                "unable to load tile", key=key, error=str(exc)
            )
            return None
        if data is None:
            return None
        now = self.clock()
        # pttl is -1 for a key without expiry, and the milliseconds left otherwise.
        age = self.ttl - pttl / 1000 if self.ttl and pttl >= 0 else 0.0
        return StoredTile(coord, now - max(age, 0.0), len(data), data=bytes(data))

    def store(self, tile: EncodedTile) -> None:
        key = self.key(tile.coord)
        try:
            self.client.set(key, tile.data, px=self.ttl * 1000 if self.ttl else None)
        except redis.RedisError as exc:
            raise self._failures.failed(key, exc) from exc
        self._failures.stored()
