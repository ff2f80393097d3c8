"""Value types, validators and the small classes that the configuration model's modules share
(HTTP options, coverages, image format entries)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from domain.errors import ConfigValueError

Number = float | int
BboxConf = tuple[float, float, float, float]
ScalarParam = str | int | float | bool
# `max_output_pixels`: a pixel count, or a width and height whose product is the count.
PixelLimit = int | tuple[int, int]


def _positive_pair(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[int, int] | None
) -> None:
    if value is not None and (value[0] <= 0 or value[1] <= 0):
        raise ConfigValueError(
            f"{attribute.name} must be two positive numbers, got {list(value)}"
        )


def _non_negative(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value < 0:
        raise ConfigValueError(f"{attribute.name} must not be negative, got {value}")


def _positive(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value < 1:
        raise ConfigValueError(f"{attribute.name} must be 1 or more, got {value}")


def _permissions(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    # As MapProxy: an octal mode as text ('755'); chmod'ed onto what the cache creates.
    if value is not None and permission_bits(value) is None:
        raise ConfigValueError(
            f"{attribute.name} must be an octal mode like '755', got {value!r}"
        )


def permission_bits(mode: str | None) -> int | None:
    """An octal mode text (`'755'`, `'0o644'`) as permission bits; None if unset or invalid."""
    if mode is None:
        return None
    try:
        bits = int(mode, 8)
    except ValueError:
        return None
    return bits if 0 <= bits <= 0o7777 else None


def _positive_number(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not value > 0:
        raise ConfigValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class HttpConf:
    """HTTP client options (`globals.http` or a source's `http`)."""

    client_timeout: float | None = None
    ssl_no_cert_checks: bool | None = None
    ssl_ca_certs: str | None = None
    headers: dict[str, str] | None = None
    method: Literal["GET", "POST", "AUTO"] | None = None
    access_control_allow_origin: str | None = None
    # Whether clients see which upstream failed (MapProxy's default: hidden, logged only).
    hide_error_details: bool | None = None
    # Keep the cookies upstreams set and send them back, as a browser would.
    manage_cookies: bool | None = None


@attrs.frozen
class CoverageConf:
    """A `coverage:` (bbox, WKT/GeoJSON polygons, an OGR datasource, or combinations)."""

    srs: str | None = None
    bbox: BboxConf | None = None
    # MapProxy's older spelling of a bbox's SRS; it wins over `srs`, as in MapProxy.
    bbox_srs: str | None = None
    polygons: str | None = None
    polygons_srs: str | None = None
    datasource: str | None = None
    where: str | None = None
    # MapProxy's older spelling of an OGR datasource, its filter and its SRS.
    ogr_datasource: str | None = None
    ogr_where: str | None = None
    ogr_srs: str | None = None
    expire_tiles: str | None = None
    union: tuple[CoverageConf, ...] | None = None
    intersection: tuple[CoverageConf, ...] | None = None
    difference: tuple[CoverageConf, ...] | None = None
    clip: bool = False


def _jpeg_quality(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and not 1 <= value <= 100:
        raise ConfigValueError(f"jpeg_quality must be 1 to 100, got {value}")


@attrs.frozen
class EncodingOptionsConf:
    """An image format's `encoding_options`."""

    jpeg_quality: int | None = attrs.field(default=None, validator=_jpeg_quality)
    quantizer: Literal["fastoctree", "mediancut"] | None = None


def _colors(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and not 0 <= value <= 256:
        raise ConfigValueError(f"colors must be 0 (full colour) to 256, got {value}")


@attrs.frozen
class ImageFormatConf:
    """Image options: a `globals.image.formats` entry (a format name as WMS offers it) or a
    cache's `image:`, saying how images are encoded and resampled.

    `format` is the real format (`image/png`, `image/jpeg`, `mixed`; default: the entry's name
    or the cache's `format`); `colors: 0` writes full-colour PNG, N a palette of at most N
    colours; `mode` is the PNG's pixel mode (`P` paletted, `RGB`, `RGBA`); `transparent: true`
    keeps an alpha channel where `mode` is not given.
    """

    format: str | None = None
    mode: Literal["RGB", "RGBA", "P"] | None = None
    colors: int | None = attrs.field(default=None, validator=_colors)
    transparent: bool | None = None
    resampling_method: Literal["nearest", "bilinear", "bicubic"] | None = None
    encoding_options: EncodingOptionsConf = attrs.Factory(EncodingOptionsConf)
