"""`tilegate create`: the files it writes, used as a user would (MapProxy 7, gunicorn, fileConfig)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from adapters.config import load_config
from entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import (
    VENV_BIN,
    fetch,
    free_port,
    run_command,
    start_server,
    stop,
)
from tests.mapserver import MapServer

# MapProxy 7 is installed beside us to compare with (the same variable as the cache tests).
MAPPROXY_BIN = Path(
    os.environ.get("TILEGATE_MAPPROXY_SEED", "/work/mpvenv/bin/mapproxy-seed")
).parent
needs_mapproxy = pytest.mark.skipif(
    not (MAPPROXY_BIN / "python").exists(), reason="MapProxy 7 not installed"
)


def create(
    cwd: Path, *args: str, cmd: str = "tilegate"
) -> subprocess.CompletedProcess[str]:
    return run_command(cwd, cmd, "create", *args)


def test_base_config_loads_in_tilegate_without_warnings(tmp_path: Path) -> None:
    result = create(tmp_path, "-t", "base-config", "etc")
    assert result.returncode == 0, result.stderr
    config = tmp_path / "etc" / "mapproxy.yaml"
    assert sorted(p.name for p in config.parent.iterdir()) == [
        "mapproxy.yaml",
        "seed.yaml",
    ]
    assert config.read_text().startswith("#")  # commented for the user
    loaded = load_config(config)
    assert loaded.warnings == ()
    state = bootstrap(loaded, config)
    assert [layer.name for layer in loaded.conf.layers] == ["osm"]
    assert "osm_cache" in state.caches
    seed = yaml.safe_load((tmp_path / "etc" / "seed.yaml").read_text())
    assert seed["seeds"]["osm_world"]["caches"] == ["osm_cache"]


@needs_mapproxy
def test_base_config_loads_in_mapproxy_7(tmp_path: Path) -> None:
    assert create(tmp_path, "-t", "base-config", ".").returncode == 0
    # Strict: MapProxy turns any configuration warning into an error here.
    check = (
        "from mapproxy.wsgiapp import make_wsgi_app\n"
        "make_wsgi_app('mapproxy.yaml', ignore_config_warnings=False)\n"
    )
    result = subprocess.run(
        [str(MAPPROXY_BIN / "python"), "-c", check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seed = subprocess.run(
        [
            str(MAPPROXY_BIN / "mapproxy-seed"),
            "-f",
            "mapproxy.yaml",
            "-s",
            "seed.yaml",
            "--dry-run",
            "--seed",
            "ALL",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seed.returncode == 0, seed.stderr
    assert "Levels: [0, 1, 2, 3, 4, 5]" in seed.stdout


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    assert create(tmp_path, "-t", "base-config", "etc").returncode == 0
    config, seed = tmp_path / "etc" / "mapproxy.yaml", tmp_path / "etc" / "seed.yaml"
    config.write_text("# mine\n")
    seed.unlink()
    refused = create(tmp_path, "-t", "base-config", "etc")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "mapproxy.yaml" in refused.stderr
    assert "--force" in refused.stderr
    # Nothing written at all: not even the file that did not exist.
    assert config.read_text() == "# mine\n"
    assert not seed.exists()
    assert create(tmp_path, "-t", "base-config", "etc", "--force").returncode == 0
    assert config.read_text() != "# mine\n"
    assert seed.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "-t TEMPLATE"),
        (("-t", "wsgi-app", "config.py"), "--mapproxy-conf"),
        (("-t", "wsgi-app", "-f", "missing.yaml", "config.py"), "missing.yaml"),
        (("-t", "log-ini"), "destination"),
    ],
)
def test_bad_command_lines_are_one_line_errors(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = create(tmp_path, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("tilegate: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_template_and_listing(tmp_path: Path) -> None:
    unknown = create(tmp_path, "-t", "nope", "x")
    assert unknown.returncode == 2
    assert "invalid choice: 'nope'" in unknown.stderr
    listed = create(tmp_path, "-l", cmd="mapproxy-util")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "base-config",
        "wsgi-app",
        "log-ini",
    ]


def test_log_ini_routes_mapproxy_loggers_with_plain_file_config(tmp_path: Path) -> None:
    # A `%` in the directory would break fileConfig's interpolation if it were not escaped.
    logs = tmp_path / "50%logs"
    logs.mkdir()
    assert create(tmp_path, "-t", "log-ini", str(logs / "log.ini")).returncode == 0
    probe = (
        "import json, logging, logging.config\n"
        "logging.config.fileConfig('log.ini')\n"
        "out = {}\n"
        "for name in ('mapproxy.system', 'mapproxy.config', 'mapproxy.source.request',"
        " 'mapproxy.access', 'mapproxy.source.wms'):\n"
        "    logger = logging.getLogger(name)\n"
        "    while not logger.handlers: logger = logger.parent\n"
        "    out[name] = [logger.handlers[0].baseFilename, logger.propagate]\n"
        "logging.getLogger('mapproxy.source.request').info('probe')\n"
        "logging.shutdown()\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", probe],
        cwd=logs,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    routes = json.loads(result.stdout)
    general, requests = str(logs / "tilegate.log"), str(logs / "source-requests.log")
    assert routes == {
        "mapproxy.system": [general, False],
        "mapproxy.config": [general, False],
        "mapproxy.source.request": [requests, False],
        "mapproxy.access": [general, False],
        "mapproxy.source.wms": [general, True],  # through the root logger
    }
    assert (logs / "source-requests.log").read_text().rstrip().endswith(" probe")


def test_wsgi_app_and_log_ini_serve_a_tile_under_gunicorn(tmp_path: Path) -> None:
    with MapServer() as upstream:
        conf = {
            "services": {"tms": None},
            "layers": [{"name": "osm", "title": "OSM", "sources": ["osm_cache"]}],
            "caches": {
                "osm_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["osm_wms"]}
            },
            "sources": {
                "osm_wms": {
                    "type": "wms",
                    "req": {"url": f"{upstream.url}/service", "layers": "base"},
                }
            },
        }
        etc = tmp_path / "etc"
        etc.mkdir()
        (etc / "mapproxy.yaml").write_text(yaml.safe_dump(conf))
        made = create(etc, "-t", "wsgi-app", "-f", "mapproxy.yaml", "config.py")
        assert made.returncode == 0, made.stderr
        assert create(etc, "-t", "log-ini", "log.ini").returncode == 0
        port = free_port()
        # Started from another directory, as a service manager would.
        proc, url = start_server(
            [
                str(VENV_BIN / "gunicorn"),
                "--chdir",
                str(etc),
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "config:application",
            ],
            tmp_path,
            port,
        )
        try:
            status, headers, body = fetch(f"{url}/tms/1.0.0/osm/EPSG3857/1/0/0.png")
            assert (status, headers["Content-Type"]) == (200, "image/png")
            assert body.startswith(b"\x89PNG")
            assert len(upstream.requests) == 1
        finally:
            stop(proc)
    # The tile's upstream request is in the source-request log, in MapProxy's terms.
    requests_log = (etc / "source-requests.log").read_text()
    line = re.search(r"event='source request' method='GET' url='([^']*)'", requests_log)
    assert line is not None, requests_log
    assert line.group(1).startswith(f"{upstream.url}/service?")
    assert "duration_ms=" in requests_log
    # The cache landed next to the configuration (./cache_data of the server's directory).
    assert list((etc / "cache_data").rglob("*.png"))
