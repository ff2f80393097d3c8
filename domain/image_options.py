"""Output formats as `globals.image` configures them: named formats, their encoding options.

A format name (a WMS FORMAT, a cache's `format`) may be an entry of `globals.image.formats`,
whose `format` is the real one (`mixed` included) and whose `encoding_options` override the
global `jpeg_quality`; any other name is a known format with the global options.
"""

from __future__ import annotations

import attrs

from domain.config import CacheConf, GlobalsImageConf, ImageFormatConf
from domain.formats import MIXED, ImageFormat, find_format
from domain.imaging import EncodeOptions
from domain.warp import Resampling

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


def image_conf(
    name: str, image: GlobalsImageConf, own: ImageFormatConf | None = None
) -> ImageFormatConf:
    """The options for images in the format called name: its `globals.image.formats` entry,
    overridden key by key by a cache's own `image:` (own)."""
    conf = format_conf(name, image) or ImageFormatConf()
    if own is None:
        return conf
    changes = {
        key: value
        for key in ("format", "mode", "colors", "transparent", "resampling_method")
        if (value := getattr(own, key)) is not None
    }
    own_encoding = {
        k: v for k, v in attrs.asdict(own.encoding_options).items() if v is not None
    }
    if own_encoding:
        changes["encoding_options"] = attrs.evolve(
            conf.encoding_options, **own_encoding
        )
    return attrs.evolve(conf, **changes)


def resampling(
    name: str, image: GlobalsImageConf, own: ImageFormatConf | None = None
) -> Resampling:
    """How images in the format called name are resampled."""
    return image_conf(name, image, own).resampling_method or image.resampling_method


def encode_options(
    name: str, image: GlobalsImageConf, own: ImageFormatConf | None = None
) -> EncodeOptions:
    """How images in the format called name are encoded (with a cache's own `image:`)."""
    conf = image_conf(name, image, own)
    quality = image.jpeg_quality or DEFAULT_JPEG_QUALITY
    # MapProxy: `colors: 0` is full colour, and `mode: P` paletted whatever `paletted` says.
    paletted = (
        (image.paletted or conf.mode == "P") if conf.colors is None else conf.colors > 0
    )
    mode = conf.mode if conf.mode != "P" else None
    if mode is None and conf.transparent and not paletted:
        mode = "RGBA"
    encoding = conf.encoding_options
    return EncodeOptions(
        paletted=paletted,
        jpeg_quality=encoding.jpeg_quality or quality,
        quantizer=encoding.quantizer or "fastoctree",
        colors=conf.colors or 256,
        mode=mode,
    )


def tile_format(cache: CacheConf) -> str:
    """The format name a cache stores its tiles in: its `image.format`, else its `format`."""
    if cache.image is not None and cache.image.format:
        return cache.image.format
    return cache.format
