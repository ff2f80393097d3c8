"""docs/python-api.md's watermark example run as the page says: under gunicorn, over HTTP."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from entrypoints.wsgiapp import make_wsgi_app
from tests.e2e.conftest import VENV_BIN, fetch, free_port, start_server, stop
from tests.integration.decorate_support import cache_files, config, pixels, same
from tests.mapserver import MapServer
from tests.wsgi_call import call

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
TILE = "/wmts/cached/GLOBAL_WEBMERCATOR/2/1/2.png"


def test_the_watermark_example_under_gunicorn(
    tmp_path: Path, upstream: MapServer
) -> None:
    conf = tmp_path / "mapproxy.yaml"
    conf.write_text(yaml.safe_dump(config(upstream)))
    port = free_port()
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(EXAMPLES),
        f"watermark_app:make_app({str(conf)!r})",
    ]
    proc, url = start_server(cmd, tmp_path, port)
    try:
        status, headers, alice = fetch(url + TILE, {"X-Forwarded-User": "alice"})
        assert (status, headers["Content-Type"]) == (200, "image/png")
        assert headers["Cache-Control"] == "private, no-cache"
        again = fetch(url + TILE, {"X-Forwarded-User": "alice"})[2]
        bob = fetch(url + TILE, {"X-Forwarded-User": "bob"})[2]
        revalidated = fetch(
            url + TILE, {"X-Forwarded-User": "alice", "If-None-Match": headers["ETag"]}
        )
    finally:
        stop(proc)
    assert again == alice
    assert revalidated[0] == 304
    stored = cache_files(tmp_path / "cache_data")
    plain = call(make_wsgi_app(conf), TILE)[2]
    assert plain in stored.values()
    spec = importlib.util.spec_from_file_location(
        "watermark_app", EXAMPLES / "watermark_app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    for user, answer in (("alice", alice), ("bob", bob)):
        expected = example.watermark(pixels(plain), user).convert("RGB")
        assert same(pixels(answer), expected), user
