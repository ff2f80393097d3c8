"""Configuration checks of the WMS service: its SRS codes and every layer's `md`."""

from __future__ import annotations

from domain.config import TilegateConf
from domain.layer_md import check_layer_md
from domain.srs import srs as make_srs


def check_wms(conf: TilegateConf) -> list[str]:
    """Problems, each ending in its key path: unknown `srs`/`bbox_srs` codes, bad layer md."""
    errors = check_layer_md(conf.layers)
    wms = conf.services.wms
    if wms is None:
        return errors
    entries = {
        "srs": wms.srs,
        "bbox_srs": tuple(
            e if isinstance(e, str) else e.srs for e in wms.bbox_srs or ()
        ),
    }
    for key, codes in entries.items():
        for index, code in enumerate(codes):
            try:
                make_srs(code)
            except ValueError as exc:
                errors.append(f"{exc} @ $.services.wms.{key}[{index}]")
    return errors
