"""RESTful WMTS URL templates (`restful_template`, `restful_featureinfo_template`) as regexes."""

from __future__ import annotations

import re


def template_route(template: str, keys: tuple[str, ...]) -> re.Pattern[str]:
    """The regex of a RESTful URL template: a group per key, `dim_<name>` for any other name."""
    pattern = ""
    for literal, key in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
        pattern += re.escape(literal)
        if key:
            if key not in keys:
                pattern += f"(?P<dim_{key}>[^/]+)"
            else:
                pattern += (
                    f"(?P<{key}>[^/]+?)"
                    if key != "Format"
                    else r"(?P<Format>[A-Za-z0-9]+)"
                )
    return re.compile(pattern + "$")
