"""The LegendURL of a layer in WMTS capabilities, as MapProxy offers it."""

from __future__ import annotations

from domain.config import LayerConf, TilegateConf


def legend_templates(
    layer: LayerConf, conf: TilegateConf
) -> tuple[str | None, str | None]:
    """The KVP and RESTful capabilities' legend URL templates of a layer: its own
    `wmts_kvp_legendurl` / `wmts_rest_legendurl`, else, for a layer with a `legendurl` when WMS
    is on, this service's WMS GetLegendGraphic in its newest version, as MapProxy's default."""
    default = None
    wms = conf.services.wms
    if layer.legendurl is not None and wms is not None:
        newest = max(wms.versions, key=lambda v: tuple(int(p) for p in v.split(".")))
        default = (
            "{base_url}/service?service=WMS&request=GetLegendGraphic"
            f"&version={newest}&format=image%2Fpng&layer={{layer_name}}"
        )
    return (
        layer.wmts_kvp_legendurl if layer.wmts_kvp_legendurl is not None else default,
        layer.wmts_rest_legendurl if layer.wmts_rest_legendurl is not None else default,
    )


def legend_url(template: str, base_url: str, layer_name: str) -> str:
    """The template with `{base_url}` (the service's root URL) and `{layer_name}` filled in."""
    return template.replace("{base_url}", base_url).replace("{layer_name}", layer_name)
