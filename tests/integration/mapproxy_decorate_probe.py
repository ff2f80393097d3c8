"""Run by MapProxy 7's Python (not ours): the decorate_img calls MapProxy makes for requests.

    python mapproxy_decorate_probe.py mapproxy.yaml < requests.json > calls.json

`requests.json` is a list of [path, query]; the output has, per request, its status and the
list of calls as {"service", "layers", "query_extent", "size"}. The callback returns the image
unchanged.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from typing import Any


def probe(app: Any, path: str, query: str) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []
    status: list[str] = []

    def decorate(
        image: Any, service: str, layers: list[str], environ: Any, query_extent: Any
    ) -> Any:
        calls.append(
            {
                "service": service,
                "layers": list(layers),
                "query_extent": [query_extent[0], list(query_extent[1])],
                "size": list(image.as_image().size),
            }
        )
        return image

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "mapproxy.decorate_img": decorate,
    }
    b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
    return {"status": status[0], "calls": calls}


def main() -> None:
    # Only importable in MapProxy's venv (and unknown to our type checker).
    make_wsgi_app = importlib.import_module("mapproxy.wsgiapp").make_wsgi_app

    app = make_wsgi_app(sys.argv[1])
    json.dump(
        [probe(app, path, query) for path, query in json.load(sys.stdin)], sys.stdout
    )


if __name__ == "__main__":
    main()
