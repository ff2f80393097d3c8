"""Warping images between bboxes and SRSs, measured against ground truth as PSNR."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from domain.bbox import Bbox
from domain.srs import SRS, srs, transform_points
from domain.warp import GeoImage, warp

GEODETIC = srs("EPSG:4326")


def pattern(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A smooth colour field over the globe: the ground truth every warp is checked against."""
    r = 127.5 + 127.5 * np.sin(np.radians(lon) * 3)
    g = 127.5 + 127.5 * np.cos(np.radians(lat) * 4)
    b = 127.5 + 127.5 * np.sin(np.radians(lon + lat) * 2)
    return np.stack([r, g, b], -1)


def world_image(width: int = 1440, height: int = 720) -> GeoImage:
    lon = -180 + (np.arange(width) + 0.5) * 360 / width
    lat = 90 - (np.arange(height) + 0.5) * 180 / height
    data = pattern(*np.meshgrid(lon, lat)).astype(np.uint8)
    return GeoImage(Image.fromarray(data, "RGB"), Bbox(-180, -90, 180, 90), GEODETIC)


def truth(bbox: Bbox, target: SRS, size: tuple[int, int]) -> np.ndarray:
    xs = bbox.minx + (np.arange(size[0]) + 0.5) / size[0] * bbox.width
    ys = bbox.maxy - (np.arange(size[1]) + 0.5) / size[1] * bbox.height
    grid_x, grid_y = np.meshgrid(xs, ys)
    lonlat = np.array(
        transform_points(
            list(zip(grid_x.ravel(), grid_y.ravel(), strict=True)), target, GEODETIC
        )
    )
    return pattern(
        lonlat[:, 0].reshape(size[1], size[0]), lonlat[:, 1].reshape(size[1], size[0])
    )


def psnr(image: Image.Image, expected: np.ndarray) -> float:
    got = np.asarray(image.convert("RGB")).astype(float)
    mse = float(((got - expected) ** 2).mean())
    return 10 * math.log10(255**2 / mse)


@pytest.mark.parametrize(
    ("code", "bbox"),
    [
        ("EPSG:3857", Bbox(-5e6, -5e6, 5e6, 5e6)),  # symmetric about the equator
        ("EPSG:3857", Bbox(0, 5e6, 2e6, 7e6)),
        ("EPSG:25832", Bbox(200000, 5000000, 900000, 6200000)),
        ("EPSG:3035", Bbox(2.5e6, 1.5e6, 6.5e6, 5.5e6)),
    ],
)
def test_reprojected_image_matches_ground_truth(code: str, bbox: Bbox) -> None:
    out = warp(world_image(), bbox, srs(code), (400, 300))
    assert out.size == (400, 300)
    assert psnr(out, truth(bbox, srs(code), (400, 300))) > 35


def test_same_srs_is_an_exact_crop_with_nearest() -> None:
    image = Image.effect_noise((100, 100), 64).convert("RGB")
    src = GeoImage(image, Bbox(0, 0, 100, 100), srs("EPSG:3857"))
    out = warp(src, Bbox(10, 20, 60, 90), srs("EPSG:3857"), (50, 70), "nearest")
    assert out.convert("RGB").tobytes() == image.crop((10, 10, 60, 80)).tobytes()


def test_areas_outside_the_source_are_transparent() -> None:
    src = GeoImage(
        Image.new("RGB", (10, 10), (255, 0, 0)), Bbox(0, 0, 10, 10), GEODETIC
    )
    out = warp(src, Bbox(-10, 0, 10, 10), GEODETIC, (20, 10), "nearest")
    assert out.getpixel((2, 5)) == (0, 0, 0, 0)
    assert out.getpixel((15, 5)) == (255, 0, 0, 255)


def test_points_outside_the_source_srs_domain_stay_transparent() -> None:
    # A polar stereographic view reaching far beyond what the source covers.
    src = GeoImage(
        Image.new("RGB", (36, 18), (0, 0, 255)), Bbox(-180, 0, 180, 90), GEODETIC
    )
    out = warp(src, Bbox(-2e7, -2e7, 2e7, 2e7), srs("EPSG:3413"), (64, 64))
    alpha = out.getchannel("A")
    assert alpha.getpixel((32, 32)) == 255  # the pole is covered
    assert alpha.getpixel((0, 0)) == 0


MERCATOR = srs("EPSG:3857")
MERCATOR_WORLD = Bbox(-20037508.34, -20037508.34, 20037508.34, 20037508.34)


def mercator_world_image(size: int = 1024) -> GeoImage:
    """The pattern as a web mercator world map (every pixel centre coloured exactly)."""
    step = MERCATOR_WORLD.width / size
    centres = MERCATOR_WORLD.minx + (np.arange(size) + 0.5) * step
    grid_x, grid_y = np.meshgrid(centres, -centres)
    lonlat = np.array(
        transform_points(
            list(zip(grid_x.ravel(), grid_y.ravel(), strict=True)), MERCATOR, GEODETIC
        )
    )
    data = pattern(lonlat[:, 0], lonlat[:, 1]).reshape(size, size, 3)
    return GeoImage(
        Image.fromarray(data.astype(np.uint8), "RGB"), MERCATOR_WORLD, MERCATOR
    )


@pytest.mark.parametrize(
    "bbox",
    [
        Bbox(-40, -30, 40, 30),  # symmetric about the equator
        Bbox(5, 45, 15, 55),
        Bbox(-170, -80, 170, 80),  # most of the world: mercator bends strongly
    ],
)
def test_lat_lon_maps_from_mercator_match_ground_truth(bbox: Bbox) -> None:
    # Mercator to lat/lon bends only north-south: drawn in bands rather than a mesh.
    out = warp(mercator_world_image(), bbox, GEODETIC, (400, 300))
    assert out.mode == "RGB"  # the source covers the whole map
    assert psnr(out, truth(bbox, GEODETIC, (400, 300))) > 35


@pytest.mark.parametrize(
    ("target", "bbox"),
    [
        (GEODETIC, Bbox(-180, -89.9, 180, 89.9)),  # beyond mercator's 85 degrees
        (srs("EPSG:3035"), Bbox(-2e6, -2e6, 1.2e7, 1.2e7)),
    ],
)
def test_a_map_larger_than_the_source_is_transparent_outside_it(
    target: SRS, bbox: Bbox
) -> None:
    out = warp(mercator_world_image(256), bbox, target, (300, 300))
    assert out.mode == "RGBA"
    alpha = np.asarray(out.getchannel("A"))
    assert alpha.min() == 0
    assert alpha.max() == 255


def test_an_upright_part_of_the_source_is_scaled_exactly_with_nearest() -> None:
    # A lat/lon strip over row 100 of a mercator image, one output pixel per source column:
    # each output pixel must take the source pixel under its centre.
    image = Image.effect_noise((256, 256), 64).convert("RGB")
    px = MERCATOR_WORLD.width / 256
    top = MERCATOR_WORLD.maxy - 100 * px
    (_, north), (_, south) = transform_points(
        [(0, top), (0, top - px)], MERCATOR, GEODETIC
    )
    src = GeoImage(image, MERCATOR_WORLD, MERCATOR)
    out = warp(src, Bbox(-90, south, 90, north), GEODETIC, (128, 1), "nearest")
    assert out.tobytes() == image.crop((64, 100, 192, 101)).tobytes()


def test_a_bbox_rounded_near_pixel_edges_is_still_an_exact_crop() -> None:
    # As a client that rounds coordinates (GDAL: 8 decimals) asks for a tile-aligned map.
    image = Image.effect_noise((512, 512), 64).convert("RGB")
    src = GeoImage(image, MERCATOR_WORLD, MERCATOR)
    px = MERCATOR_WORLD.width / 512
    exact = Bbox(
        MERCATOR_WORLD.minx + 100 * px,
        MERCATOR_WORLD.maxy - 300 * px,
        MERCATOR_WORLD.minx + 356 * px,
        MERCATOR_WORLD.maxy - 44 * px,
    )
    rounded = Bbox(*(round(v, 8) + 1e-9 for v in exact.as_tuple()))
    out = warp(src, rounded, MERCATOR, (256, 256))
    assert out.tobytes() == image.crop((100, 44, 356, 300)).tobytes()
