"""Image formats as MapProxy names them: MIME types, short names and file extensions."""

from __future__ import annotations

import attrs

from domain.errors import ConfigValueError


@attrs.frozen
class ImageFormat:
    mime: str
    ext: str
    pil_name: str

    @property
    def supports_alpha(self) -> bool:
        return self.pil_name != "JPEG"


_FORMATS = (
    ImageFormat("image/png", "png", "PNG"),
    ImageFormat("image/jpeg", "jpeg", "JPEG"),
    ImageFormat("image/gif", "gif", "GIF"),
    ImageFormat("image/tiff", "tiff", "TIFF"),
    ImageFormat("image/webp", "webp", "WEBP"),
)
PNG, JPEG = _FORMATS[0], _FORMATS[1]
# MapProxy's `mixed`: PNG where the image has transparency, JPEG where it is opaque. Not a
# format of its own (no file is ever written as it), so not found by name below.
MIXED = ImageFormat("mixed", "mixed", "MIXED")

_BY_NAME = (
    {f.mime: f for f in _FORMATS}
    | {f.ext: f for f in _FORMATS}
    | {"jpg": _FORMATS[1], "image/jpg": _FORMATS[1]}
)


def image_format(name: str) -> ImageFormat:
    """The format for `image/png`, `png`, `image/png; mode=8bit` and the like."""
    key = name.split(";")[0].strip().lower()
    try:
        return _BY_NAME[key]
    except KeyError:
        raise ConfigValueError(f"unknown image format {name!r}") from None


def find_format(name: str) -> ImageFormat | None:
    return _BY_NAME.get(name.split(";")[0].strip().lower())


def upstream_format(
    wanted: str, own: str | None, supported: tuple[str, ...] | None
) -> str:
    """The format a source is asked for, as MapProxy picks it: its own (`image.format`,
    `req.format`) over the `wanted` one, then the first of `supported_formats` unless that
    list has it."""
    if own:
        wanted = own
    known = find_format(wanted)
    if not supported or any(
        known is not None and image_format(f).mime == known.mime for f in supported
    ):
        return wanted
    return supported[0] if "/" in supported[0] else image_format(supported[0]).mime


def offered_format(fmt: ImageFormat) -> ImageFormat:
    """The format tile services name for a cache in fmt: a mixed cache is offered as PNG (as
    MapProxy offers it), each tile then answered with the type it really has."""
    return PNG if fmt == MIXED else fmt


def stored_format(fmt: ImageFormat, head: bytes) -> ImageFormat:
    """The real format of a stored tile starting with `head` in a cache of format fmt."""
    if fmt != MIXED:
        return fmt
    return JPEG if head.startswith(b"\xff\xd8\xff") else PNG


# What the first bytes of a mixed tile need to tell PNG from JPEG.
HEAD_SIZE = 3
