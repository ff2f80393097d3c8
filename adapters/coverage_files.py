"""What coverages name, read from disk and OGR relative to the configuration's directory:
the CoverageFiles port of domain/coverage_conf.py."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from adapters import ogr
from domain.errors import ConfigValueError

# A GDAL connection string (`PG: dbname=...`, `WFS:http...`) rather than a path; two letters
# at least, so that a Windows drive letter is still a path.
_CONNECTION = re.compile(r"^\w{2,}:")
_HEAD = 50


@attrs.frozen
class CoverageFiles:
    here: Path

    def read_text(self, path: str) -> str:
        try:
            return (self.here / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigValueError(
                f"cannot read coverage file {path!r}: {exc}"
            ) from exc

    def head(self, path: str) -> bytes | None:
        if _CONNECTION.match(path):
            return None
        try:
            with (self.here / path).open("rb") as file:
                return file.read(_HEAD)
        except OSError:
            return None

    def read_features(self, datasource: str, where: str | None) -> list[bytes]:
        where_to = (
            datasource if _CONNECTION.match(datasource) else str(self.here / datasource)
        )
        return ogr.read_features(where_to, where)
