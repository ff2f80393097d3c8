"""Output formats as `globals.image` configures them: named formats, their encoding options.

A format name (a WMS FORMAT, a cache's `format`) may be an entry of `globals.image.formats`,
whose `format` is the real one (`mixed` included) and whose `encoding_options` override the
global `jpeg_quality`; any other name is a known format with the global options.
"""

from __future__ import annotations

from domain.config import GlobalsImageConf, ImageFormatConf
from domain.formats import MIXED, ImageFormat, find_format
from domain.imaging import EncodeOptions

DEFAULT_JPEG_QUALITY = 90


def format_conf(name: str, image: GlobalsImageConf) -> ImageFormatConf | None:
    """The `globals.image.formats` entry for name (its key, matched without case)."""
    if name in image.formats:
        return image.formats[name]
    wanted = name.strip().lower()
    return next((c for k, c in image.formats.items() if k.lower() == wanted), None)


def resolve_format(name: str, image: GlobalsImageConf) -> ImageFormat | None:
    """The format name stands for (MIXED for `mixed`); None if it is none we write."""
    conf = format_conf(name, image)
    real = conf.format if conf is not None and conf.format else name
    if real.split(";")[0].strip().lower() in ("mixed", "image/mixed"):
        return MIXED
    return find_format(real)


def encode_options(name: str, image: GlobalsImageConf) -> EncodeOptions:
    """How images in the format called name are encoded."""
    conf = format_conf(name, image)
    paletted = image.paletted
    quality = image.jpeg_quality or DEFAULT_JPEG_QUALITY
    if conf is None:
        return EncodeOptions(paletted=paletted, jpeg_quality=quality)
    if conf.colors is not None:
        paletted = conf.colors > 0
    encoding = conf.encoding_options
    return EncodeOptions(
        paletted=paletted,
        jpeg_quality=encoding.jpeg_quality or quality,
        quantizer=encoding.quantizer or "fastoctree",
    )
