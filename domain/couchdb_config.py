"""The configuration of `type: couchdb` caches: one JSON document per tile in a CouchDB
database, the tile as its attachment `tile`, with metadata from a template."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from domain.errors import ConfigValueError

# The document id MapProxy gives a tile (a %-format string over x, y, z and grid_name).
DEFAULT_TILE_ID = "%(grid_name)s-%(z)d-%(x)d-%(y)d"
# MapProxy 7 reads a tile_id as a URL template that starts with this; the id follows it.
COUCH_URL_PREFIX = "%(couch_url)s/"
# The tile_metadata values replaced per tile (`{{level}}` is `{{z}}` again); any other string
# starting with `{{` is an error, as MapProxy fails on it for every tile.
METADATA_VALUES = (
    "{{x}}",
    "{{y}}",
    "{{z}}",
    "{{level}}",
    "{{timestamp}}",
    "{{utc_iso}}",
    "{{tile_centroid}}",
    "{{wgs_tile_centroid}}",
)
# A %-format field of a tile_id: `%(name)` with flags, width and conversion.
TILE_ID_FIELD = re.compile(r"%\((\w+)\)([-#0 +]*)(\d*)([a-zA-Z])|%%")
_ID_KEYS = {"x", "y", "z", "grid_name"}
_NUMBER_CONVERSIONS = {"d", "i", "u", "s"}
# CouchDB's rule for database names (MapProxy lowercases the name it is given).
_DB_NAME = re.compile(r"[a-z][a-z0-9_$()+/-]*")


def tile_id_template(tile_id: str | None) -> str:
    """The document id template of a `tile_id` option: its `%(couch_url)s/` prefix dropped."""
    if tile_id is None:
        return DEFAULT_TILE_ID
    return tile_id.removeprefix(COUCH_URL_PREFIX)


def _tile_id(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    template = tile_id_template(value)
    for field in TILE_ID_FIELD.finditer(template):
        name, conversion = field.group(1), field.group(4)
        if name is None:
            continue
        if name not in _ID_KEYS:
            raise ConfigValueError(
                f"tile_id may use %(x)d, %(y)d, %(z)d and %(grid_name)s, not %({name})"
                f" (in {value!r})"
            )
        if name != "grid_name" and conversion not in _NUMBER_CONVERSIONS:
            raise ConfigValueError(
                f"tile_id formats %({name}) as a whole number (d, i, u or s), got"
                f" {conversion!r} in {value!r}"
            )
    names = {field.group(1) for field in TILE_ID_FIELD.finditer(template)}
    if not {"x", "y", "z"} <= names:
        raise ConfigValueError(
            f"tile_id needs %(x)d, %(y)d and %(z)d to tell tiles apart, got {value!r}"
        )
    rest = TILE_ID_FIELD.sub("", template)
    if "%" in rest:
        raise ConfigValueError(
            f"tile_id takes only named fields such as %(z)d, got {value!r}"
        )
    if "/" in template or template.startswith("_"):
        raise ConfigValueError(
            f"tile_id must not hold '/' nor start with '_' (CouchDB ids), got {value!r}"
        )


def _db_name(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    if value is not None and not _DB_NAME.fullmatch(value.lower()):
        raise ConfigValueError(
            "db_name must start with a letter and hold only letters, digits and _$()+-/,"
            f" got {value!r}"
        )


def _url(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.match(r"https?://[^/?#]", value):
        # The URL may hold a password: it is not repeated.
        raise ConfigValueError("url must be an http:// or https:// URL")


def _tile_metadata(
    instance: object, attribute: attrs.Attribute[Any], value: dict[str, object]
) -> None:
    for key, template in value.items():
        if (
            isinstance(template, str)
            and template.startswith("{{")
            and template not in METADATA_VALUES
        ):
            raise ConfigValueError(
                f"unknown tile_metadata value {template!r} of {key!r}, expected one of"
                f" {', '.join(METADATA_VALUES)} (or a plain value)"
            )
        if key.startswith("_"):
            raise ConfigValueError(
                f"tile_metadata key {key!r} starts with '_', which CouchDB keeps for itself"
            )


@attrs.frozen
class CouchDBBackendConf:
    """`type: couchdb`: a document per tile, `<db>/<tile_id>` with attachment `tile`; the
    database is `<cache name>_<grid srs without ':'>` (lower case) unless `db_name` is set."""

    type: Literal["couchdb"] = "couchdb"
    url: str = attrs.field(default="http://127.0.0.1:5984", validator=_url)
    db_name: str | None = attrs.field(default=None, validator=_db_name)
    tile_id: str | None = attrs.field(default=None, validator=_tile_id)
    tile_metadata: dict[str, object] = attrs.field(
        factory=dict, validator=_tile_metadata
    )
    tile_lock_dir: str | None = None

    def timestamp_key(self) -> str:
        """The document key that holds when the tile was stored (seconds since the epoch)."""
        keys = [k for k, v in self.tile_metadata.items() if v == "{{timestamp}}"]
        return keys[0] if keys else "timestamp"
