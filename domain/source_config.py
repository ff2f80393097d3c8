"""The configuration of `sources:`: one frozen class per source type, with MapProxy's key names."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from domain.config_values import (
    CoverageConf,
    HttpConf,
    ImageFormatConf,
    ScalarParam,
    _non_negative,
    _positive_number,
)
from domain.errors import ConfigValueError
from domain.res_range import ResRange, res_range
from domain.warp import Resampling


def _opacity(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ConfigValueError(f"opacity must be between 0 and 1, got {value}")


# A colour as `#rrggbb` (`#rrggbbaa`) or a list of 3 (4) numbers 0 to 255.
ColorConf = str | tuple[int, ...]


def _color(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value != "transparent":
        try:
            parse_color(value)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigValueError(f"{attribute.name}: {exc}") from None


def parse_color(value: ColorConf) -> tuple[int, int, int, int]:
    """An RGBA colour from `#rrggbb`, `#rrggbbaa` or 3 or 4 numbers (opaque unless given)."""
    if isinstance(value, str):
        text = value.strip().removeprefix("#")
        if len(text) not in (6, 8) or any(
            c not in "0123456789abcdefABCDEF" for c in text
        ):
            raise ValueError(f"expected a colour #rrggbb, got {value!r}")
        parts = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
    else:
        parts = list(value)
        if len(parts) not in (3, 4) or not all(0 <= p <= 255 for p in parts):
            raise ValueError(f"expected 3 or 4 numbers 0 to 255, got {parts}")
    red, green, blue, *alpha = parts
    return (red, green, blue, alpha[0] if alpha else 255)


def _tolerance(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and value < 0:
        raise ConfigValueError(
            f"transparent_color_tolerance must not be negative, got {value}"
        )


@attrs.frozen
class SourceImageConf(ImageFormatConf):
    """A source's `image:` options: those of an image format, and `opacity` (fades its image
    where it is merged with others), `transparent_color` (within `transparent_color_tolerance`,
    turns one colour transparent).

    As in MapProxy, `format` is the format a WMS-like source is asked for and
    `resampling_method` reprojects its images; `mode`, `colors`, `transparent` and
    `encoding_options` are checked but change nothing, for a source's images are encoded
    again only as part of a cache's tiles or a WMS map, in their options.
    """

    opacity: float | None = attrs.field(default=None, validator=_opacity)
    transparent_color: ColorConf | None = attrs.field(default=None, validator=_color)
    transparent_color_tolerance: float | None = attrs.field(
        default=None, validator=_tolerance
    )


@attrs.frozen
class OnErrorConf:
    """What a source's `on_error` entry answers instead of failing: an image of `response`
    (`transparent` or a colour), stored only with `cache`; with `authorize_stale` a tile
    already in the cache is kept instead."""

    response: ColorConf = attrs.field(default="transparent", validator=_color)
    cache: bool = False
    authorize_stale: bool = False


def _on_error(
    instance: object,
    attribute: attrs.Attribute[Any],
    value: dict[int | str, OnErrorConf] | None,
) -> None:
    for key in value or {}:
        if key != "other" and not (isinstance(key, int) and 100 <= key <= 599):
            raise ConfigValueError(
                f"on_error keys must be HTTP status codes or 'other', got {key!r}"
            )


# `on_error`: HTTP status (or `other`: any other status, or no answer) -> what to answer.
OnErrorMap = dict[int | str, OnErrorConf]


@attrs.frozen(kw_only=True)
class SourceLimitsConf:
    """What every map source may limit itself by: a resolution range (`min_res`/`max_res` or
    `min_scale`/`max_scale`) and `seed_only`."""

    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    seed_only: bool = False

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


@attrs.frozen
class WMSSourceConf(SourceLimitsConf):
    """A `type: wms` source; `req` holds the WMS parameters passed upstream, `url` among them."""

    req: dict[str, ScalarParam]
    type: Literal["wms"] = "wms"
    supported_srs: tuple[str, ...] | None = None
    supported_formats: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    # Where the source is asked: resolutions (m/px) or scale denominators, not both.
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    wms_opts: dict[str, ScalarParam] | None = None
    transparent: bool | None = None
    image: SourceImageConf | None = None
    on_error: OnErrorMap | None = attrs.field(default=None, validator=_on_error)
    # Parameters of a client's WMS request passed on to the source (uncached layers).
    forward_req_params: tuple[str, ...] | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.req.get("url"), str) or not self.req["url"]:
            raise ConfigValueError("req.url is required for a wms source")
        # Without req.layers the source names its layers where it is used tagged
        # (`name:layer1,layer2`); elsewhere it asks for none (a warning, as in MapProxy).
        layers = self.req.get("layers")
        if layers is not None and (not isinstance(layers, str) or not layers):
            raise ConfigValueError("req.layers must be layer names")
        self.res_limits()


@attrs.frozen
class TileSourceConf(SourceLimitsConf):
    """A `type: tile` source: a URL template over the source's own grid."""

    url: str
    type: Literal["tile"] = "tile"
    grid: str = "GLOBAL_MERCATOR"
    origin: str | None = None
    transparent: bool = False
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    image: SourceImageConf | None = None
    on_error: OnErrorMap | None = attrs.field(default=None, validator=_on_error)

    def __attrs_post_init__(self) -> None:
        self.res_limits()


@attrs.frozen
class DebugSourceConf:
    """A `type: debug` source: draws each request's bbox and resolution."""

    type: Literal["debug"] = "debug"


@attrs.frozen
class GeoJSONSourceConf:
    """A `type: geojson` source (Tilegate's own): renders the polygons of a GeoJSON file offline."""

    file: str
    type: Literal["geojson"] = "geojson"
    srs: str = "EPSG:4326"
    fill: str = "#d8d0b8"
    stroke: str = "#6b5e4a"
    background: str = "#a6c8e0"
    transparent: bool = False


@attrs.frozen
class ArcGISReqConf:
    """An `arcgis` source's `req`: the REST service URL and what each export asks for."""

    url: str
    layers: str | None = None
    transparent: bool | None = None
    dpi: int | None = None
    time: str | None = None
    # Read by MapProxy 7 though its schema does not list it: the export's format.
    format: str | None = None


@attrs.frozen
class ArcGISOptsConf:
    """An `arcgis` source's `opts`: identify as feature info, and whether it draws maps."""

    featureinfo: bool = False
    featureinfo_tolerance: float = 5
    featureinfo_return_geometries: bool = False
    map: bool = True


@attrs.frozen
class ArcGISSourceConf(SourceLimitsConf):
    """A `type: arcgis` source: export requests to an ArcGIS REST MapServer or ImageServer."""

    req: ArcGISReqConf
    type: Literal["arcgis"] = "arcgis"
    opts: ArcGISOptsConf = attrs.Factory(ArcGISOptsConf)
    supported_srs: tuple[str, ...] | None = None
    # As `req.format`, read by MapProxy 7 beyond its schema.
    supported_formats: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    on_error: OnErrorMap | None = attrs.field(default=None, validator=_on_error)

    def __attrs_post_init__(self) -> None:
        if not self.req.url:
            raise ConfigValueError("req.url is required for an arcgis source")
        self.res_limits()


@attrs.frozen
class MapServerOptsConf:
    """`mapserver:` options (a source's, else `globals.mapserver`): how the CGI binary runs.

    `timeout` (seconds, Tilegate's own) bounds each run; a binary still running is killed.
    """

    binary: str | None = None
    working_dir: str | None = None
    timeout: float | None = attrs.field(default=None, validator=_positive_number)


@attrs.frozen
class MapServerSourceConf(SourceLimitsConf):
    """A `type: mapserver` source: WMS GetMap requests answered by the MapServer CGI binary."""

    req: dict[str, ScalarParam]
    type: Literal["mapserver"] = "mapserver"
    mapserver: MapServerOptsConf | None = None
    supported_srs: tuple[str, ...] | None = None
    supported_formats: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    wms_opts: dict[str, ScalarParam] | None = None
    transparent: bool | None = None
    image: SourceImageConf | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.req.get("map"), str) or not self.req["map"]:
            raise ConfigValueError("req.map is required for a mapserver source")
        # As for wms sources: without req.layers the source is used tagged.
        layers = self.req.get("layers")
        if layers is not None and (not isinstance(layers, str) or not layers):
            raise ConfigValueError("req.layers must be layer names")
        self.res_limits()


def _layer_names(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...] | None
) -> None:
    if value is not None and not all(value):
        raise ConfigValueError(f"layers must be layer names, got {list(value)}")


@attrs.frozen
class MapnikSourceConf(SourceLimitsConf):
    """A `type: mapnik` source: maps rendered from a Mapnik XML style (`mapfile`).

    `layers` limits the drawn layers to those named (a list, or one comma-separated string).
    """

    mapfile: str
    type: Literal["mapnik"] = "mapnik"
    layers: tuple[str, ...] | None = attrs.field(default=None, validator=_layer_names)
    transparent: bool = False
    scale_factor: float = attrs.field(default=1.0, validator=_positive_number)
    multithreaded: bool = False
    use_mapnik2: bool | None = None
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    image: SourceImageConf | None = None

    def __attrs_post_init__(self) -> None:
        self.res_limits()


def _path_id(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    # A collection id becomes one segment of `collections/{id}`, a tile matrix set id is the
    # last one of a tileset's path: a slash or query would reach elsewhere.
    if value is not None and (not value.strip() or any(c in value for c in "/?#")):
        raise ConfigValueError(
            f"{attribute.name} must be one id (no '/', '?' or '#'), got {value!r}"
        )


def _landingpage_url(
    instance: object, attribute: attrs.Attribute[Any], value: str
) -> None:
    scheme, sep, rest = value.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest.strip("/"):
        raise ConfigValueError(f"landingpage_url must be an http(s) URL, got {value!r}")


@attrs.frozen
class OGCAPITilesSourceConf(SourceLimitsConf):
    """A `type: ogcapitiles` source: map tiles of an OGC API - Tiles server, found from its
    landing page (or one `collection`'s page), in the tile matrix set `tile_matrix_set_id`
    (else any the server offers in the cache grid's SRS)."""

    landingpage_url: str = attrs.field(validator=_landingpage_url)
    type: Literal["ogcapitiles"] = "ogcapitiles"
    collection: str | None = attrs.field(default=None, validator=_path_id)
    tile_matrix_set_id: str | None = attrs.field(default=None, validator=_path_id)
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    image: SourceImageConf | None = None

    def __attrs_post_init__(self) -> None:
        self.res_limits()


@attrs.frozen
class OGCAPIMapsSourceConf(SourceLimitsConf):
    """A `type: ogcapimaps` source: maps of an OGC API - Maps server (its landing page's map,
    or one `collection`'s), asked in `supported_srs` (else the CRSs the server lists)."""

    landingpage_url: str = attrs.field(validator=_landingpage_url)
    type: Literal["ogcapimaps"] = "ogcapimaps"
    collection: str | None = attrs.field(default=None, validator=_path_id)
    supported_srs: tuple[str, ...] | None = None
    transparent: bool = False
    image: SourceImageConf | None = None
    bgcolor: ColorConf | None = attrs.field(default=None, validator=_color)
    coverage: CoverageConf | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        self.res_limits()


SourceConf = (
    WMSSourceConf
    | TileSourceConf
    | DebugSourceConf
    | GeoJSONSourceConf
    | ArcGISSourceConf
    | MapServerSourceConf
    | MapnikSourceConf
    | OGCAPITilesSourceConf
    | OGCAPIMapsSourceConf
)
# Sources with a `coverage`, resolution limits and `seed_only`.
LimitedSourceConf = (
    WMSSourceConf
    | TileSourceConf
    | ArcGISSourceConf
    | MapServerSourceConf
    | MapnikSourceConf
    | OGCAPITilesSourceConf
    | OGCAPIMapsSourceConf
)


def source_opacity(conf: SourceConf | None) -> float | None:
    """A source's `image.opacity` (None for sources without image options)."""
    if (
        isinstance(
            conf,
            WMSSourceConf
            | TileSourceConf
            | MapServerSourceConf
            | OGCAPITilesSourceConf
            | OGCAPIMapsSourceConf,
        )
        and conf.image is not None
    ):
        return conf.image.opacity
    return None


def source_resampling(conf: SourceConf | None) -> Resampling | None:
    """How a source's images are scaled and reprojected (`image.resampling_method`), if it says."""
    image = getattr(conf, "image", None)
    return image.resampling_method if isinstance(image, SourceImageConf) else None


def supported_srs(conf: SourceConf | None) -> tuple[str, ...] | None:
    """The SRS codes a source that renders in only some SRS (`supported_srs`) is asked in."""
    if isinstance(
        conf,
        WMSSourceConf | ArcGISSourceConf | MapServerSourceConf | OGCAPIMapsSourceConf,
    ):
        return conf.supported_srs or None
    return None


def split_tag(name: str) -> tuple[str, tuple[str, ...] | None]:
    """A tagged source name `source:layer1,layer2` as the source's name and its layers."""
    if ":" not in name:
        return name, None
    base, layers = name.split(":", 1)
    return base, tuple(layer.strip() for layer in layers.split(",") if layer.strip())


SOURCE_TYPES: dict[str, type[SourceConf]] = {
    "wms": WMSSourceConf,
    "tile": TileSourceConf,
    "debug": DebugSourceConf,
    "geojson": GeoJSONSourceConf,
    "arcgis": ArcGISSourceConf,
    "mapserver": MapServerSourceConf,
    "mapnik": MapnikSourceConf,
    "ogcapitiles": OGCAPITilesSourceConf,
    "ogcapimaps": OGCAPIMapsSourceConf,
}
