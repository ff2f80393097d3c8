"""`globals.image.font_dir`: the TrueType files text is drawn with, read once at start."""

from __future__ import annotations

from pathlib import Path

from adapters.logs import CONFIG, get_logger
from domain.errors import ConfigError
from domain.fonts import BUILTIN, Fonts, TextFont

# The files MapProxy looks for in font_dir, for the same uses.
SANS, MONO = "DejaVuSans.ttf", "DejaVuSansMono.ttf"


def load_fonts(font_dir: str | None, here: Path) -> Fonts:
    """The fonts in `font_dir` (relative to the configuration's directory); a file it lacks
    leaves Pillow's built-in font in its place, with a warning, as MapProxy falls back."""
    if font_dir is None:
        return Fonts()
    where = here / font_dir
    if not where.is_dir():
        raise ConfigError(
            "configuration", [f"no directory {where} @ $.globals.image.font_dir"]
        )
    return Fonts(_font(where / SANS), _font(where / MONO))


def _font(path: Path) -> TextFont:
    try:
        data = path.read_bytes()
    except OSError as exc:
        get_logger(CONFIG).warning(
            "font missing, the built-in font is used",
            file=str(path),
            error=exc.strerror,
        )
        return BUILTIN
    font = TextFont(data)
    try:
        font.at(10)
    except OSError as exc:
        raise ConfigError(
            "configuration", [f"{path} is no TrueType font @ $.globals.image.font_dir"]
        ) from exc
    return font
