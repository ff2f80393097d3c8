"""Secrets: basic-auth credentials in source URLs never leave Tilegate.

Sources carry `user:password@` in their URLs (the only way MapProxy configures basic auth).
Every service, capabilities document, the demo, every error answer (upstream refusing the
credentials, failing, unreachable) and every log line at DEBUG (the source request log and
the access log included) is scanned for the password in each spelling it could take, and so
are the outputs of the `tilegate` commands that talk to such sources.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from adapters import logs
from entrypoints.app import TilegateApp
from entrypoints.wsgiapp import make_wsgi_app
from tests.e2e.conftest import free_port
from tests.mapserver import AUTH_PASSWORD, AUTH_USER, MapServer
from tests.wsgi_call import call

WRONG = "Wr0ng-S3cret"  # a rejected password is a secret too
SECRETS = [
    AUTH_PASSWORD,
    quote(AUTH_PASSWORD, safe=""),
    quote(AUTH_PASSWORD, safe="")[:6],  # "p%40ss": any part of the encoded password
    base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode(),
    WRONG,
    base64.b64encode(f"{AUTH_USER}:{WRONG}".encode()).decode(),
]
LAYERS = (
    "wms_ok",
    "tile_ok",
    "wms_refused",
    "wms_failing",
    "wms_wrong",
    "tile_failing",
)
WMS = "/service?SERVICE=WMS&VERSION=1.1.1&STYLES=&SRS=EPSG:4326&WIDTH=64&HEIGHT=64"


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        # Everything under /secure/fail answers HTTP 500.
        server.add_fault(status=500, path="/secure/fail")
        yield server


@pytest.fixture(scope="module")
def config(upstream: MapServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrets")
    good = upstream.auth_url()
    wrong = upstream.auth_url(password=WRONG)
    refused = (
        f"http://{AUTH_USER}:{quote(AUTH_PASSWORD, safe='')}@127.0.0.1:{free_port()}"
    )

    def wms(url: str) -> dict[str, Any]:
        return {
            "type": "wms",
            "wms_opts": {"featureinfo": True, "legendgraphic": True},
            "req": {"url": url + "/service", "layers": "up", "transparent": True},
        }

    def tile(url: str) -> dict[str, Any]:
        return {"type": "tile", "url": url + "/tiles/%(z)s/%(x)s/%(y)s.png"}

    sources = {
        "wms_ok": wms(good),
        "tile_ok": tile(good),
        "wms_refused": wms(refused),
        "wms_failing": wms(good + "/fail"),
        "wms_wrong": wms(wrong),
        "tile_failing": tile(good + "/fail"),
    }
    conf = {
        "services": {
            "demo": None,
            "tms": None,
            "kml": None,
            "wmts": None,
            "wms": {"srs": ["EPSG:4326", "EPSG:3857"], "on_source_errors": "raise"},
        },
        "layers": [
            {"name": name, "title": name.title(), "sources": [f"{name}_cache"]}
            for name in LAYERS
        ],
        "caches": {
            f"{name}_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": [name]}
            for name in LAYERS
        },
        "sources": sources,
        "globals": {
            "cache": {"base_dir": str(root / "cache")},
            "http": {"client_timeout": 2},
        },
    }
    path = root / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    assert leaks(
        path.read_text()
    )  # the config does hold them: the scans below can fail
    return path


def urls() -> list[str]:
    every = [
        "/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1",
        "/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
        "/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.0.0",
        "/tms/1.0.0/",
        "/wmts/1.0.0/WMTSCapabilities.xml",
        "/service?SERVICE=WMTS&REQUEST=GetCapabilities",
        "/demo/",
        "/",
    ]
    for name in LAYERS:
        every += [
            f"{WMS}&REQUEST=GetMap&LAYERS={name}&BBOX=0,0,10,10&FORMAT=image/png",
            f"{WMS}&REQUEST=GetMap&LAYERS={name}&BBOX=0,0,10,10&FORMAT=image/png"
            "&EXCEPTIONS=application/vnd.ogc.se_inimage",
            f"{WMS}&REQUEST=GetFeatureInfo&LAYERS={name}&QUERY_LAYERS={name}"
            "&BBOX=0,0,10,10&X=5&Y=5",
            f"{WMS}&REQUEST=GetLegendGraphic&LAYER={name}&FORMAT=image/png",
            f"/tms/1.0.0/{name}/EPSG3857",
            f"/tms/1.0.0/{name}/EPSG3857/1/1/1.png",
            f"/kml/{name}/EPSG3857/1/1/1.kml",
            f"/kml/{name}/EPSG3857/1/1/1.png",
            f"/wmts/{name}/GLOBAL_WEBMERCATOR/1/1/0.png",
            f"/demo/?tms_layer={name}&grid=EPSG3857",
            f"/demo/?wmts_layer={name}&grid=GLOBAL_WEBMERCATOR",
        ]
    return every


def get(app: TilegateApp, url: str) -> tuple[int, str]:
    """The answer's status, and its status line, headers and body as one text to scan."""
    path, _, query = url.partition("?")
    status, headers, body = call(app, path, query)
    return status, f"{status} {headers} " + body.decode("latin-1")


def test_no_answer_and_no_log_line_holds_a_credential(
    config: Path, upstream: MapServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    level = logging.getLogger("mapproxy").level
    try:
        # debug: DEBUG logging, and unexpected errors answer with their tracebacks.
        app = make_wsgi_app(config, debug=True)
        assert isinstance(app, TilegateApp)
        statuses = {url: get(app, url) for url in urls()}
    finally:
        logging.getLogger("mapproxy").setLevel(level)
    for url, (_, text) in statuses.items():
        assert not leaks(text), (url, leaks(text))
    # The error paths ran: refused, failing and rejected sources answered 502 ...
    for name in ("wms_refused", "wms_failing", "wms_wrong", "tile_failing"):
        assert statuses[f"/tms/1.0.0/{name}/EPSG3857/1/1/1.png"][0] == 502, name
    # ... the good ones were fetched with the credentials ...
    assert statuses["/tms/1.0.0/wms_ok/EPSG3857/1/1/1.png"][0] == 200
    assert statuses["/tms/1.0.0/tile_ok/EPSG3857/1/1/1.png"][0] == 200
    assert any(
        k.lower() == "authorization" for r in upstream.requests for k in r.headers
    )
    # ... and the logs (DEBUG: access log, source request log, errors) were written.
    logged = "\n".join(
        logging.Formatter("%(name)s %(levelname)s %(message)s").format(r)
        for r in caplog.records
    )
    assert f"{logs.SOURCE_REQUEST} INFO" in logged
    assert f"{logs.ACCESS} DEBUG" in logged
    assert f"{logs.SYSTEM} WARNING" in logged
    assert "/secure/fail/service" in logged
    assert not leaks(logged), leaks(logged)


def test_config_errors_do_not_echo_credentials(config: Path, tmp_path: Path) -> None:
    conf = yaml.safe_load(config.read_text())
    conf["sources"]["wms_ok"]["req"]["layers"] = ["not", "a", "string"]
    conf["sources"]["wms_ok"]["supported_srs"] = "EPSG:bogus"
    conf["sources"]["tile_ok"]["grid"] = "NO_SUCH_GRID"
    broken = tmp_path / "mapproxy.yaml"
    broken.write_text(yaml.safe_dump(conf))
    with pytest.raises(Exception) as error:  # noqa: PT011 - any config error will do
        make_wsgi_app(broken)
    assert "sources" in str(error.value)
    assert not leaks(str(error.value))


def run(*args: str, cwd: Path) -> str:
    tilegate = str(Path(sys.executable).parent / "tilegate")
    result = subprocess.run(
        [tilegate, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"{result.returncode} {result.stdout} {result.stderr}"


def test_command_output_holds_no_credential(
    config: Path, upstream: MapServer, tmp_path: Path
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "seeds": {
                    "all": {
                        "caches": [f"{n}_cache" for n in LAYERS],
                        "levels": {"to": 0},
                    }
                }
            }
        )
    )
    outputs = {
        "seed": run(
            "seed",
            *("-f", str(config), "-s", str(seed)),
            *("--retries", "1", "--retry-delay", "0", "-c", "1"),
            cwd=tmp_path,
        ),
        "capabilities": run(
            "wms-capabilities", upstream.auth_url() + "/service?", cwd=tmp_path
        ),
        "rejected": run(
            "wms-capabilities",
            upstream.auth_url(password=WRONG) + "/service?",
            cwd=tmp_path,
        ),
        "grids": run("grids", "-f", str(config), cwd=tmp_path),
    }
    # The commands ran against the sources: the failing ones were reported.
    assert "127.0.0.1" in outputs["seed"]
    assert outputs["rejected"].startswith("1 ")
    assert "401" in outputs["rejected"]
    for name, text in outputs.items():
        assert not leaks(text), (name, leaks(text))
