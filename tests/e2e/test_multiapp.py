"""Many configurations in one process, through real HTTP: the multiapp dev server and gunicorn."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import (
    VENV_BIN,
    fetch,
    free_port,
    run_command,
    stop,
    wait_for_http,
)

TILE = "tms/1.0.0/{layer}/EPSG3857/0/0/0.png"
HOSTILE = "<img src=x onerror=alert(1)>"


def project(layers: tuple[str, ...] = ("dbg",), **extra: object) -> str:
    conf: dict[str, object] = {
        "services": {"tms": None, "wmts": None, "demo": None},
        "layers": [{"name": n, "title": n, "sources": ["c"]} for n in layers],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["dbg"],
                "disable_storage": True,
            }
        },
        "sources": {"dbg": {"type": "debug"}},
        **extra,
    }
    return yaml.safe_dump(conf)


def touch_later(path: Path, text: str) -> None:
    """Rewrite a file with a clearly newer mtime, whatever the file system's resolution."""
    path.write_text(text)
    later = time.time() + 2
    os.utime(path, (later, later))


def eventually(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


class Running:
    """A server process whose output goes to a file the test can read while it runs."""

    def __init__(self, cmd: list[str], cwd: Path, port: int) -> None:
        self.log = cwd / f"server-{port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        try:
            wait_for_http(self.url + "/", self.proc)
        except BaseException:
            stop(self.proc)
            raise

    def output(self) -> str:
        return self.log.read_text()

    def loads(self, name: str) -> int:
        return self.output().count(f"event='project loaded' project='{name}'")

    def raw_get(self, path: str) -> int:
        """GET a path exactly as written (no client-side normalisation of `..`)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multiapp")
    conf = root / "conf"
    conf.mkdir()
    for name in ("p1", "p2", "fresh", "live"):
        (conf / f"{name}.yaml").write_text(project((f"{name}_layer",)))
    (conf / "broken.yaml").write_text("layers: [")
    # A `base:` file in a subdirectory: included, but not a project itself.
    (conf / "shared").mkdir()
    (conf / "shared" / "base.yaml").write_text(project(("from_base",)))
    (conf / "based.yaml").write_text("base: shared/base.yaml\n")
    # A lock directory that cannot be created: the tile request fails unexpectedly (500).
    # (A cache directory that cannot be created only leaves the tile unstored: a 200.)
    (conf / "blocker").write_text("")
    bad = yaml.safe_load(project(("bad_layer",)))
    bad["caches"]["c"] = {
        "grids": ["GLOBAL_WEBMERCATOR"],
        "sources": ["dbg"],
        "cache": {
            "type": "file",
            "directory": str(conf / "blocker" / "sub"),
            "tile_lock_dir": str(conf / "blocker" / "locks"),
        },
    }
    (conf / "bad.yaml").write_text(yaml.safe_dump(bad))
    # Names that are no projects, and a symlink that leads out of the directory.
    (conf / f"{HOSTILE}.yaml").write_text(project())
    (conf / 'a&b".yaml').write_text(project())
    (conf / ".hidden.yaml").write_text(project())
    (root / "secret").mkdir()
    (root / "secret" / "outside.yaml").write_text(project(("secret_layer",)))
    (conf / "outside.yaml").symlink_to(root / "secret" / "outside.yaml")
    (conf / "alias.yaml").symlink_to("p1.yaml")  # inside the directory: a project
    return conf


@pytest.fixture(scope="module")
def dev(projects: Path) -> Iterator[Running]:
    """`tilegate serve-multiapp-develop --debug` on the projects (listing on)."""
    port = free_port()
    cmd = [
        str(VENV_BIN / "tilegate"),
        "serve-multiapp-develop",
        str(projects),
        "--bind",
        f"127.0.0.1:{port}",
        "--debug",
    ]
    server = Running(cmd, projects.parent, port)
    yield server
    stop(server.proc)


def test_concurrent_first_requests_load_a_project_once(dev: Running) -> None:
    statuses: list[int] = []

    def get() -> None:
        statuses.append(fetch(f"{dev.url}/fresh/{TILE.format(layer='fresh_layer')}")[0])

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert dev.loads("fresh") == 1


def test_each_project_serves_under_its_prefix(dev: Running) -> None:
    status, headers, body = fetch(f"{dev.url}/p1/{TILE.format(layer='p1_layer')}")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert body.startswith(b"\x89PNG")
    # Each project has only its own layers.
    assert fetch(f"{dev.url}/p2/{TILE.format(layer='p1_layer')}")[0] == 404
    assert fetch(f"{dev.url}/p2/{TILE.format(layer='p2_layer')}")[0] == 200

    tms = fetch(f"{dev.url}/p1/tms/1.0.0/")[2].decode()
    assert f'href="{dev.url}/p1/tms/1.0.0/p1_layer/EPSG3857"' in tms
    wmts = fetch(f"{dev.url}/p2/wmts/1.0.0/WMTSCapabilities.xml")[2].decode()
    assert f'template="{dev.url}/p2/wmts/p2_layer/' in wmts
    demo = fetch(f"{dev.url}/p1/demo/")[2].decode()
    assert f'href="{dev.url}/p1/tms/1.0.0/"' in demo
    # Every link of the demo page stays inside the project.
    links = re.findall(r'(?:href|src)="(http[^"]*)"', demo)
    assert links
    assert all(link.startswith(f"{dev.url}/p1/") for link in links)
    # Behind a proxy at a sub-path the prefix comes after the proxy's.
    proxied = fetch(
        f"{dev.url}/p1/tms/1.0.0/",
        {"X-Script-Name": "/maps", "X-Forwarded-Host": "maps.example"},
    )[2].decode()
    assert 'href="http://maps.example/maps/p1/tms/1.0.0/p1_layer/EPSG3857"' in proxied
    # A symlink to a project inside the directory is a project of its own name.
    assert fetch(f"{dev.url}/alias/{TILE.format(layer='p1_layer')}")[0] == 200


def test_changed_project_and_base_files_reload(dev: Running, projects: Path) -> None:
    new_tile = f"{dev.url}/live/{TILE.format(layer='added')}"
    assert fetch(new_tile)[0] == 404
    touch_later(projects / "live.yaml", project(("live_layer", "added")))
    assert eventually(lambda: fetch(new_tile)[0] == 200)

    based_tile = f"{dev.url}/based/{TILE.format(layer='{}')}"
    assert fetch(based_tile.format("from_base"))[0] == 200
    touch_later(projects / "shared" / "base.yaml", project(("changed_base",)))
    assert eventually(lambda: fetch(based_tile.format("changed_base"))[0] == 200)
    assert fetch(based_tile.format("from_base"))[0] == 404


def test_broken_project_is_isolated_and_recovers(dev: Running, projects: Path) -> None:
    status, headers, body = fetch(f"{dev.url}/broken/")
    assert status == 503
    assert headers["Content-Type"].startswith("text/plain")
    assert b"broken" in body
    assert b"Traceback" not in body
    assert b"layers" not in body  # the details go to the log, not to the client
    assert "event='project not loaded' project='broken'" in dev.output()
    assert fetch(f"{dev.url}/p1/{TILE.format(layer='p1_layer')}")[0] == 200
    touch_later(projects / "broken.yaml", project(("mended",)))
    assert eventually(
        lambda: fetch(f"{dev.url}/broken/{TILE.format(layer='mended')}")[0] == 200
    )


def test_listing_shows_projects_escaped(dev: Running) -> None:
    status, headers, body = fetch(f"{dev.url}/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode()
    names = re.findall(r'<a href="[^"]*/([^"/]+)/">', page)
    assert set(names) >= {"p1", "p2", "alias", "based", "bad", "live", "fresh"}
    assert "outside" not in names
    assert "shared" not in names
    assert f'<a href="{dev.url}/p1/">p1</a>' in page
    # Names a project may not have are not offered, and nothing is reflected raw.
    assert "<img" not in page
    assert "a&b" not in page
    assert "hidden" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/../secret/outside.yaml",
        "/../x/",
        "/%2e%2e/secret/",
        "/..%2fsecret%2foutside/",
        "/outside/",
        "/%3Cimg%20src=x%20onerror=alert(1)%3E/",
        "/a&b%22/",
        "/.hidden/",
        "/p1.yaml/",
        "/shared/",
        "/nope/",
        "/blocker/",
        "/%00p1/",
    ],
)
def test_paths_that_name_no_project_are_404(dev: Running, path: str) -> None:
    assert dev.raw_get(path) == 404


def test_a_symlink_out_of_the_directory_is_never_loaded(dev: Running) -> None:
    # Its target is a valid configuration: had it been read, it would have been served.
    assert dev.raw_get("/outside/") == 404
    assert dev.raw_get(f"/outside/{TILE.format(layer='secret_layer')}") == 404
    assert dev.loads("outside") == 0


def test_debug_shows_tracebacks_and_logs_each_request(dev: Running) -> None:
    status, _, body = fetch(f"{dev.url}/bad/{TILE.format(layer='bad_layer')}")
    assert status == 500
    assert b"Traceback (most recent call last)" in body
    assert b"NotADirectoryError" in body
    fetch(f"{dev.url}/p2/tms/1.0.0/?x=1")
    line = re.compile(
        r"DEBUG mapproxy\.access: event='request' method='GET' "
        r"path='/p2/tms/1\.0\.0/\?x=1' status=200 ms=[0-9.]+"
    )
    # The server writes the line once the answer is sent, so it may come a moment later.
    assert eventually(lambda: line.search(dev.output()) is not None)


def test_gunicorn_without_listing_keeps_a_bounded_number_of_projects(
    projects: Path,
) -> None:
    port = free_port()
    app = f"entrypoints.multiapp:make_wsgi_app({str(projects)!r}, max_loaded=2)"
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        app,
    ]
    server = Running(cmd, projects.parent, port)
    try:
        assert fetch(f"{server.url}/")[0] == 404
        for name in (
            "p1",
            "p2",
            "p1",
            "fresh",
        ):  # fresh drops p2, the least recently used
            layer = f"{name}_layer"
            assert fetch(f"{server.url}/{name}/{TILE.format(layer=layer)}")[0] == 200
        fetch(f"{server.url}/p1/")
        assert (server.loads("p1"), server.loads("p2")) == (1, 1)
        fetch(f"{server.url}/p2/")
        assert (server.loads("p1"), server.loads("p2")) == (1, 2)
        assert "event='project unloaded' project='p2'" in server.output()
        # Without debug: no traceback in the answer, no access lines.
        status, _, body = fetch(f"{server.url}/bad/{TILE.format(layer='bad_layer')}")
        assert (status, body) == (500, b"internal error\n")
        assert "mapproxy.access" not in server.output()
    finally:
        stop(server.proc)


def test_serve_develop_debug_shows_tracebacks(projects: Path) -> None:
    port = free_port()
    cmd = [
        str(VENV_BIN / "tilegate"),
        "serve-develop",
        str(projects / "bad.yaml"),
        "--bind",
        f"127.0.0.1:{port}",
        "--debug",
    ]
    server = Running(cmd, projects.parent, port)
    try:
        status, _, body = fetch(f"{server.url}/{TILE.format(layer='bad_layer')}")
        assert status == 500
        assert b"NotADirectoryError" in body
        line = f"path='/{TILE.format(layer='bad_layer')}' status=500"
        assert eventually(lambda: line in server.output())
    finally:
        stop(server.proc)


def test_missing_config_dir_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_command(
        tmp_path, "tilegate", "serve-multiapp-develop", str(tmp_path / "nope")
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "nope" in result.stderr
    assert "Traceback" not in result.stderr
