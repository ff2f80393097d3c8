"""The file cache against real files, and its paths against files MapProxy 7 writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from adapters.file_cache import TEMP_SUFFIX, FileCache, cache_directory
from domain.bbox import Bbox
from domain.config import FileCacheBackendConf
from domain.grid import Grid, TileCoord
from domain.ports import EncodedTile, StoredTile
from domain.srs import SRS

# Expected paths as MapProxy 7.0's FileCache.tile_location gave them for these coords (run
# once by hand); they cover the digit splits of tc/mp, hex of arcgis and bits of quadkey.
MAPPROXY_PATHS = {
    "tc": {
        (1, 2, 3): "03/000/000/001/000/000/002.png",
        (1234567, 7654321, 11): "11/001/234/567/007/654/321.png",
        (1234567890, 5, 2): "02/1234/567/890/000/000/005.png",
        (3, 4, 100): "100/000/000/003/000/000/004.png",
        (255, 4096, 12): "12/000/000/255/000/004/096.png",
        (0, 0, 0): "00/000/000/000/000/000/000.png",
    },
    "mp": {
        (1, 2, 3): "03/0000/0001/0000/0002.png",
        (1234567, 7654321, 11): "11/0123/4567/0765/4321.png",
        (1234567890, 5, 2): "02/123456/7890/0000/0005.png",
        (255, 4096, 12): "12/0000/0255/0000/4096.png",
        (0, 0, 0): "00/0000/0000/0000/0000.png",
    },
    "tms": {
        (1, 2, 3): "3/1/2.png",
        (1234567, 7654321, 11): "11/1234567/7654321.png",
        (0, 0, 0): "0/0/0.png",
    },
    "reverse_tms": {
        (1, 2, 3): "2/1/3.png",
        (1234567, 7654321, 11): "7654321/1234567/11.png",
        (255, 4096, 12): "4096/255/12.png",
    },
    "quadkey": {
        (1, 2, 3): "021.png",
        (1234567, 7654321, 11): "13230220113.png",
        (5, 9, 10): "0000002103.png",
        (255, 4096, 12): "000011111111.png",
        (0, 0, 0): ".png",
    },
    "arcgis": {
        (1, 2, 3): "L03/R00000002/C00000001.png",
        (1234567, 7654321, 11): "L11/R0074cbb1/C0012d687.png",
        (1234567890, 5, 2): "L02/R00000005/C499602d2.png",
        (255, 4096, 12): "L12/R00001000/C000000ff.png",
        (3, 4, 100): "L100/R00000004/C00000003.png",
    },
}

MAPPROXY_SEED = Path(
    os.environ.get("TILEGATE_MAPPROXY_SEED", "/work/mpvenv/bin/mapproxy-seed")
)

GRID_LL = Grid(
    "g_ll",
    SRS("EPSG:4326"),
    Bbox(0, 0, 40, 20),
    res=(0.078125, 0.0390625, 0.01953125, 0.009765625),
    origin="ll",
)
GRID_UL = Grid("g_ul", GRID_LL.srs, GRID_LL.bbox, res=GRID_LL.res, origin="ul")
GEODETIC = Grid(
    "GLOBAL_GEODETIC", SRS("EPSG:4326"), Bbox(-180, -90, 180, 90), res=(1.40625,)
)
MERCATOR = Grid(
    "GLOBAL_MERCATOR",
    SRS("EPSG:900913"),
    Bbox(
        -20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244
    ),
    res=(156543.03392804097,),
)


def files_under(directory: Path) -> set[str]:
    return {
        str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir()
    }


@pytest.mark.parametrize(
    ("layout", "coord", "expected"),
    [
        (layout, xyz, path)
        for layout, paths in MAPPROXY_PATHS.items()
        for xyz, path in paths.items()
    ],
)
def test_every_layout_names_tiles_as_mapproxy(
    tmp_path: Path, layout: str, coord: tuple[int, int, int], expected: str
) -> None:
    cache = FileCache(tmp_path, layout, "png")
    assert cache.path_for(TileCoord(*coord)) == tmp_path / expected


def test_arcgis_jpeg_tiles_end_in_jpeg(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "arcgis", "jpeg")
    assert (
        cache.path_for(TileCoord(5, 9, 10)) == tmp_path / "L10/R00000009/C00000005.jpeg"
    )


SEED_LAYOUTS = ["tc", "mp", "tms", "reverse_tms", "quadkey", "arcgis"]


@pytest.mark.skipif(
    not MAPPROXY_SEED.exists(), reason="MapProxy 7 is not installed here"
)
def test_tiles_and_directories_match_what_mapproxy_seed_writes(tmp_path: Path) -> None:
    # Seeding a corner of a grid tells ll rows from ul rows; one cache per grid keeps them apart.
    caches = {}
    for layout in SEED_LAYOUTS:
        fmt = "image/jpeg" if layout == "arcgis" else "image/png"
        for grid in (GRID_LL, GRID_UL):
            caches[f"{layout}_{grid.origin}"] = (
                f"{{grids: [{grid.name}], sources: [dbg], format: '{fmt}',"
                f" cache: {{type: file, directory_layout: {layout}}}}}"
            )
    caches["named"] = (
        "{grids: [g_ul], sources: [dbg], cache: {type: file, use_grid_names: true}}"
    )
    caches["own_base"] = "{grids: [g_ll], sources: [dbg], cache_dir: ./other_base}"
    caches["fixed"] = (
        "{grids: [g_ll], sources: [dbg], cache_dir: ./ignored, cache: {type: file, directory: ./fixed}}"
    )
    config = "\n".join(
        [
            "services: {tms: }",
            "layers: [{name: l, title: l, sources: [tc_ll]}]",
            "sources: {dbg: {type: debug}}",
            "grids:",
            "  g_ll: {srs: 'EPSG:4326', bbox: [0, 0, 40, 20], origin: ll,",
            f"         res: {list(GRID_LL.res)}}}",
            "  g_ul: {base: g_ll, origin: ul}",
            "globals: {cache: {base_dir: ./cache_data, meta_size: [1, 1], meta_buffer: 0}}",
            "caches:",
            *(f"  {name}: {conf}" for name, conf in caches.items()),
        ]
    )
    (tmp_path / "mapproxy.yaml").write_text(config)
    # MapProxy seeds caches of one grid per task.
    tasks = {
        origin: ", ".join(
            name for name, conf in caches.items() if f"[g_{origin}]" in conf
        )
        for origin in ("ll", "ul")
    }
    (tmp_path / "seed.yaml").write_text(
        "coverages: {c: {bbox: [1, 1, 9, 9], srs: 'EPSG:4326'}}\nseeds:\n"
        + "".join(
            f"  s_{o}: {{caches: [{names}], coverages: [c], levels: {{to: 3}}}}\n"
            for o, names in tasks.items()
        )
    )
    subprocess.run(
        [MAPPROXY_SEED, "-f", "mapproxy.yaml", "-s", "seed.yaml", "-q"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )

    def expected(grid: Grid, cache: FileCache) -> set[str]:
        coords = [
            c for z in range(4) for c in grid.tiles_for_bbox(Bbox(1, 1, 9, 9), z) or ()
        ]
        return {str(cache.path_for(c).relative_to(cache.directory)) for c in coords}

    base = tmp_path / "cache_data"
    for layout in SEED_LAYOUTS:
        ext = "jpeg" if layout == "arcgis" else "png"
        for grid in (GRID_LL, GRID_UL):
            name = f"{layout}_{grid.origin}"
            directory = cache_directory(base, name, grid, FileCacheBackendConf(), None)
            assert directory == base / f"{name}_EPSG4326"
            cache = FileCache(directory, layout, ext)
            assert files_under(directory) == expected(grid, cache), name

    naming = {
        "named": cache_directory(
            base, "named", GRID_UL, FileCacheBackendConf(use_grid_names=True), None
        ),
        "own_base": cache_directory(
            base,
            "own_base",
            GRID_LL,
            FileCacheBackendConf(),
            str(tmp_path / "other_base"),
        ),
        "fixed": cache_directory(
            base,
            "fixed",
            GRID_LL,
            FileCacheBackendConf(directory=str(tmp_path / "fixed")),
            "./ignored",
        ),
    }
    assert naming == {
        "named": base / "named" / "g_ul",
        "own_base": tmp_path / "other_base" / "own_base_EPSG4326",
        "fixed": tmp_path / "fixed",
    }
    for name, directory in naming.items():
        grid = GRID_UL if name == "named" else GRID_LL
        assert files_under(directory) == expected(
            grid, FileCache(directory, "tc", "png")
        ), name
    assert not (tmp_path / "ignored").exists()


def test_cache_directory_is_cache_name_and_srs_code_under_base_dir(
    tmp_path: Path,
) -> None:
    backend = FileCacheBackendConf()
    assert (
        cache_directory(tmp_path, "osm", MERCATOR, backend, None)
        == tmp_path / "osm_EPSG900913"
    )
    assert (
        cache_directory(tmp_path, "osm", GEODETIC, backend, None)
        == tmp_path / "osm_EPSG4326"
    )


def test_cache_dir_of_the_cache_replaces_base_dir(tmp_path: Path) -> None:
    backend = FileCacheBackendConf()
    got = cache_directory(
        tmp_path / "base", "osm", MERCATOR, backend, str(tmp_path / "mine")
    )
    assert got == tmp_path / "mine" / "osm_EPSG900913"


def test_use_grid_names_makes_a_directory_per_grid_inside_one_per_cache(
    tmp_path: Path,
) -> None:
    # MapProxy 7 writes <base>/<cache>/<grid>, not <base>/<cache>_<grid> (checked by seeding).
    backend = FileCacheBackendConf(use_grid_names=True)
    assert (
        cache_directory(tmp_path, "osm", MERCATOR, backend, None)
        == tmp_path / "osm" / "GLOBAL_MERCATOR"
    )
    got = cache_directory(tmp_path, "osm", GEODETIC, backend, str(tmp_path / "mine"))
    assert got == tmp_path / "mine" / "osm" / "GLOBAL_GEODETIC"


def test_directory_option_is_used_as_is_and_wins_over_cache_dir(tmp_path: Path) -> None:
    backend = FileCacheBackendConf(
        directory=str(tmp_path / "tiles"), use_grid_names=True
    )
    assert (
        cache_directory(tmp_path, "osm", MERCATOR, backend, str(tmp_path / "x"))
        == tmp_path / "tiles"
    )


def test_stored_tile_loads_with_its_path_size_and_mtime(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c", "tc", "png")
    coord = TileCoord(3, 5, 4)
    assert cache.load(coord) is None
    cache.store(EncodedTile(coord, b"\x89PNG tile bytes"))
    stored = cache.load(coord)
    path = tmp_path / "c/04/000/000/003/000/000/005.png"
    assert stored == StoredTile(coord, path.stat().st_mtime, 15, path=str(path))
    assert path.read_bytes() == b"\x89PNG tile bytes"


@pytest.mark.parametrize("layout", SEED_LAYOUTS)
def test_round_trip_in_every_layout(tmp_path: Path, layout: str) -> None:
    cache = FileCache(tmp_path, layout, "png")
    coords = [TileCoord(x, y, 3) for x in range(8) for y in range(8)]
    for c in coords:
        cache.store(EncodedTile(c, f"{c.x},{c.y}".encode()))
    for c in coords:
        stored = cache.load(c)
        assert stored is not None
        assert stored.path is not None
        assert Path(stored.path).read_bytes() == f"{c.x},{c.y}".encode()
    assert len(files_under(tmp_path)) == 64


def test_load_of_missing_tile_is_none_even_below_a_file(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tms", "png")
    (tmp_path / "3").write_bytes(b"not a directory")
    assert cache.load(TileCoord(1, 2, 3)) is None
    (tmp_path / "4/1/2.png").mkdir(parents=True)
    assert cache.load(TileCoord(1, 2, 4)) is None


def test_store_replaces_a_tile_and_leaves_no_temp_file(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "mp", "png")
    coord = TileCoord(1, 1, 1)
    cache.store(EncodedTile(coord, b"old" * 1000))
    cache.store(EncodedTile(coord, b"new"))
    assert cache.path_for(coord).read_bytes() == b"new"
    assert files_under(tmp_path) == {"01/0000/0001/0000/0001.png"}


def test_failed_store_leaves_no_temp_file(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tms", "png")
    blocker = cache.path_for(TileCoord(1, 2, 3))
    (blocker / "inside").mkdir(
        parents=True
    )  # a non-empty directory cannot be renamed over
    with pytest.raises(OSError):  # noqa: PT011 - the platform decides which one
        cache.store(EncodedTile(TileCoord(1, 2, 3), b"data"))
    assert sorted(p.name for p in blocker.parent.iterdir()) == ["2.png"]


def test_tiles_are_readable_by_others_as_the_umask_allows(tmp_path: Path) -> None:
    # nginx may serve the files directly; a mkstemp-style 0600 would lock it out.
    old = os.umask(0o022)
    try:
        cache = FileCache(tmp_path, "tms", "png")
        cache.store(EncodedTile(TileCoord(0, 0, 0), b"x"))
    finally:
        os.umask(old)
    assert cache.path_for(TileCoord(0, 0, 0)).stat().st_mode & 0o777 == 0o644


def test_concurrent_reader_never_sees_a_partial_tile(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tc", "png")
    coord = TileCoord(0, 0, 0)
    size = 1 << 20
    cache.store(EncodedTile(coord, b"\0" * size))
    path = cache.path_for(coord)
    done = threading.Event()
    bad: list[str] = []

    def read() -> None:
        reads = 0
        while not done.is_set() or reads < 50:
            data = path.read_bytes()
            reads += 1
            if len(data) != size or data.count(data[:1]) != size:
                bad.append(f"read {len(data)} bytes starting {data[:1]!r}")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(1, 150):
            cache.store(EncodedTile(coord, bytes([i]) * size))
    finally:
        done.set()
        for t in readers:
            t.join()
    assert bad == []
    assert files_under(tmp_path) == {"00/000/000/000/000/000/000.png"}


def test_concurrent_writers_of_one_tile_leave_one_whole_tile(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "quadkey", "png")
    coord = TileCoord(1, 1, 2)

    def write(i: int) -> None:
        for _ in range(50):
            cache.store(EncodedTile(coord, bytes([i]) * 100_000))

    writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    data = cache.path_for(coord).read_bytes()
    assert data in {bytes([i]) * 100_000 for i in range(4)}
    assert files_under(tmp_path) == {"03.png"}


def test_single_colour_tiles_are_relative_links_to_one_shared_file(
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path, "tms", "png", link_single_color_images=True)
    a, b = TileCoord(1, 2, 3), TileCoord(2, 2, 3)
    cache.store(EncodedTile(a, b"red", color=(255, 0, 0)))
    cache.store(EncodedTile(b, b"red again", color=(255, 0, 0)))
    cache.store(EncodedTile(TileCoord(3, 3, 3), b"half red", color=(255, 0, 0, 128)))
    # The link text MapProxy 7 writes for the same tile and colour.
    assert os.readlink(tmp_path / "3/1/2.png") == "../../single_color_tiles/ff0000.png"
    assert os.readlink(tmp_path / "3/2/2.png") == "../../single_color_tiles/ff0000.png"
    assert (
        os.readlink(tmp_path / "3/3/3.png") == "../../single_color_tiles/ff000080.png"
    )
    assert (tmp_path / "single_color_tiles/ff0000.png").read_bytes() == b"red"
    stored = cache.load(b)
    assert stored is not None
    assert stored.size == 3
    assert stored.mtime == os.lstat(tmp_path / "3/2/2.png").st_mtime
    assert Path(str(stored.path)).read_bytes() == b"red"


def test_single_colour_links_in_deep_and_flat_layouts(tmp_path: Path) -> None:
    deep = FileCache(tmp_path / "tc", "tc", "png", link_single_color_images=True)
    deep.store(EncodedTile(TileCoord(1, 2, 3), b"c", color=(1, 2, 3, 255)))
    flat = FileCache(tmp_path / "qk", "quadkey", "png", link_single_color_images=True)
    flat.store(EncodedTile(TileCoord(1, 2, 3), b"c", color=(1, 2, 3, 255)))
    assert (
        os.readlink(deep.path_for(TileCoord(1, 2, 3)))
        == "../../../../../../single_color_tiles/010203ff.png"
    )
    assert (
        os.readlink(flat.path_for(TileCoord(1, 2, 3)))
        == "single_color_tiles/010203ff.png"
    )


def test_links_and_files_replace_each_other_without_touching_the_shared_file(
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path, "arcgis", "png", link_single_color_images=True)
    coord = TileCoord(4, 4, 4)
    path = cache.path_for(coord)
    cache.store(EncodedTile(coord, b"mixed"))
    cache.store(EncodedTile(coord, b"white", color=(255, 255, 255)))
    assert path.is_symlink()
    cache.store(EncodedTile(coord, b"mixed again"))
    assert not path.is_symlink()
    assert path.read_bytes() == b"mixed again"
    assert (tmp_path / "single_color_tiles/ffffff.png").read_bytes() == b"white"
    cache.store(EncodedTile(coord, b"black", color=(0, 0, 0)))
    cache.store(EncodedTile(coord, b"white", color=(255, 255, 255)))
    assert os.readlink(path) == "../../single_color_tiles/ffffff.png"
    assert not any(name.endswith(TEMP_SUFFIX) for name in files_under(tmp_path))


def test_colour_is_ignored_unless_linking_is_on(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tms", "png")
    cache.store(EncodedTile(TileCoord(0, 0, 0), b"red", color=(255, 0, 0)))
    assert files_under(tmp_path) == {"0/0/0.png"}
    assert not (tmp_path / "0/0/0.png").is_symlink()


def test_link_to_a_removed_shared_file_is_a_miss(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tms", "png", link_single_color_images=True)
    cache.store(EncodedTile(TileCoord(0, 0, 0), b"red", color=(255, 0, 0)))
    shutil.rmtree(tmp_path / "single_color_tiles")
    assert cache.load(TileCoord(0, 0, 0)) is None
    cache.store(EncodedTile(TileCoord(0, 0, 0), b"red", color=(255, 0, 0)))
    assert cache.load(TileCoord(0, 0, 0)) is not None


def test_remove_deletes_the_tile_and_reports_a_missing_one(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tc", "png")
    coord = TileCoord(7, 7, 7)
    cache.store(EncodedTile(coord, b"x"))
    assert cache.remove(coord) is True
    assert cache.load(coord) is None
    assert cache.remove(coord) is False


@pytest.mark.parametrize("ext", ["", "png/../..", "../png", ".png", "p g"])
def test_extensions_that_could_leave_the_directory_are_rejected(
    tmp_path: Path, ext: str
) -> None:
    with pytest.raises(ValueError, match="extension"):
        FileCache(tmp_path, "tms", ext)


def test_unknown_layout_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        FileCache(tmp_path, "../tms", "png")


@pytest.mark.parametrize(
    "coord", [TileCoord(-1, 0, 1), TileCoord(0, -1, 1), TileCoord(0, 0, -1)]
)
def test_negative_coords_have_no_path(tmp_path: Path, coord: TileCoord) -> None:
    cache = FileCache(tmp_path, "reverse_tms", "png")
    with pytest.raises(ValueError, match="negative"):
        cache.path_for(coord)
    with pytest.raises(ValueError, match="negative"):
        cache.store(EncodedTile(coord, b"x"))
    assert files_under(tmp_path) == set()


def test_relative_directory_is_anchored_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cache = FileCache(Path("rel"), "tms", "png")
    monkeypatch.chdir("/")
    cache.store(EncodedTile(TileCoord(0, 0, 0), b"x"))
    assert (tmp_path / "rel/0/0/0.png").read_bytes() == b"x"
