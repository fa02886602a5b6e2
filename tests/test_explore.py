"""The Explore view's engine and server without a browser: exact tiles, re-rooting, the cache, access."""

import io
import time
from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import textured
from PIL import Image

import collage_core as cc
from app.explore_server import TileService, routes
from app.lru import ByteLRU
from collage_core import tiles
from collage_core.viewport import MAX_ZOOM


@pytest.fixture(scope="module")
def code():
    # Non-square (4:3) so the aspect handling of rows is exercised. Grid 16: a blended
    # layout climbs by grid / 2 a level, and below grid 16 its detail at 1e15 falls under
    # float64's resolution of the pixel values (docs/explore.md, limits).
    return cc.fractalize(textured(64, 48, seed=3), grid=16, symmetries="d4")


@pytest.fixture(scope="module")
def other_code():
    return cc.fractalize(textured(48, 48, seed=9), grid=4, symmetries="rot")


# ------------------------------------------------------------------------ tile geometry
def test_adjacent_tiles_are_crops_of_one_exact_view(code):
    """2x2 tiles of a deep root are exactly the four quarters of the one view they cover."""
    renderer = cc.ViewRenderer(code)
    aspect = renderer.aspect_fraction
    root = tiles.root_for((Fraction(3, 10) + Fraction(1, 10**9), Fraction(6, 10)), Fraction(10**7), aspect)
    level, x0, y0 = 5, 13, 17
    quad = torch.zeros(code.channels, 2 * tiles.TILE, 2 * tiles.TILE, dtype=torch.float64)
    for dy in range(2):
        for dx in range(2):
            t = tiles.render_tile(renderer, root, level, x0 + dx, y0 + dy)
            quad[:, dy * tiles.TILE : (dy + 1) * tiles.TILE, dx * tiles.TILE : (dx + 1) * tiles.TILE] = t
    # The same area as one view, placed independently: the root square's corner plus
    # (x0 + 1, y0 + 1) tiles of width 1 / (zoom 2**level), at half the tiles' zoom.
    z = root.zoom * 2**level
    left, top = root.cx - 1 / (2 * root.zoom), root.cy - aspect / (2 * root.zoom)
    corner = (left + (x0 + 1) / z, top + (y0 + 1) * aspect / z)
    whole = tiles.render_exact(renderer, corner, z / 2, (2 * tiles.TILE, 2 * tiles.TILE))
    assert quad.std() > 0  # a real picture, not black
    assert torch.allclose(quad, whole, atol=1e-9, rtol=0)  # float64 sums in another order


def test_tile_zero_of_the_home_root_is_the_whole_image(code):
    renderer = cc.ViewRenderer(code)
    home = tiles.home_root(renderer.aspect_fraction)
    top = tiles.render_tile(renderer, home, 0, 0, 0)
    # Wider than tall: the square holds the image with black bands above and below.
    expected = np.asarray(code.render_view((0.5, 0.5), 1.0, (256, 192)), dtype=np.float64) / 255
    band = (256 - 192) // 2
    assert top[:, :band].abs().max() < 1e-9 and top[:, -band:].abs().max() < 1e-9
    got = top[:, band:-band].clamp(0, 1).permute(1, 2, 0).numpy()  # the 8-bit view is clamped
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6  # 8-bit rounding, float32 steps


def test_tile_addresses_outside_the_pyramid_are_refused(code):
    home = tiles.home_root(Fraction(4, 3))
    for level, x, y in ((tiles.LEVELS + 1, 0, 0), (-1, 0, 0), (2, 4, 0), (2, 0, -1)):
        with pytest.raises(ValueError, match="level|outside"):
            tiles.tile_view(home, Fraction(4, 3), level, x, y)


def test_rerooting_keeps_the_view_and_reaches_1e15():
    aspect = Fraction(4, 3)
    root = tiles.home_root(aspect)
    u, v, rel = 0.37, 0.61, 1.0
    reroots = 0
    while float(root.zoom) * rel < MAX_ZOOM:
        rel *= 32.0  # the page re-roots at 2**5
        before, zoom_before = tiles.view_of(root, aspect, u, v, rel)
        moved = tiles.reroot(root, aspect, u, v, rel)
        after, zoom_after = tiles.view_of(moved.root, aspect, moved.u, moved.v, moved.rel)
        width = 1 / zoom_before
        # Same view, to a tiny fraction of its width, in the new pyramid's shallow coordinates.
        assert abs(after[0] - before[0]) < width * 1e-9 and abs(after[1] - before[1]) < width * 1e-9
        assert abs(zoom_after / min(zoom_before, Fraction(MAX_ZOOM)) - 1) < 1e-12
        assert 1 <= moved.rel <= 2**6 and 0 < moved.u < 1 and 0 < moved.v < 1
        # The new root square, placed in the old viewer's coordinates, is where the view is.
        bu, bv, bw = moved.box
        assert bu <= u <= bu + bw and bv <= v <= bv + bw
        root, u, v, rel = moved.root, moved.u + 0.01 / moved.rel, moved.v, moved.rel
        log2 = np.log2(float(root.zoom / tiles.home_zoom(aspect)))
        assert log2 == round(log2)  # zooms stay powers of two over the top: tiles stay dyadic
        reroots += 1
    assert float(root.zoom) * rel >= MAX_ZOOM * 0.999 and reroots >= 8


def test_a_tile_at_1e15_shows_detail(code):
    renderer = cc.ViewRenderer(code)
    aspect = renderer.aspect_fraction
    root = tiles.root_for((Fraction(1, 3), Fraction(2, 3)), Fraction(MAX_ZOOM), aspect)
    level = 4
    raw = tiles.render_tile(renderer, root, level, 8, 8)
    ref_center, ref_zoom = tiles.reference_view(root, aspect, level)
    lv = tiles.tone_levels(tiles.render_exact(renderer, ref_center, ref_zoom, (256, 256)))
    toned = tiles.tone(raw, lv)
    assert float(root.zoom) * 2**level >= MAX_ZOOM
    raw_std, toned_std = float(raw.std(dim=(1, 2)).max()), float(toned.std(dim=(1, 2)).max())
    assert raw_std < 1e-3  # raw detail this deep is far below one grey level ...
    assert toned_std > 1e4 * raw_std and toned_std > 2 / 255  # ... the map's levels make it visible


# --------------------------------------------------------------------------------- LRU
def test_lru_is_bounded_and_evicts_the_least_recently_used():
    lru = ByteLRU(100)
    for k in range(5):
        lru.put(k, bytes(30))
    assert lru.nbytes <= 100 and lru.keys() == [2, 3, 4]
    assert lru.get(2) is not None  # 2 is now the most recent
    lru.put(5, bytes(30))
    assert lru.keys() == [4, 2, 5] and lru.get(3) is None
    lru.put("big", bytes(101))  # larger than the bound: not stored, nothing evicted
    assert "big" not in lru and len(lru) == 3
    lru.put(2, bytes(10))  # replacing a value updates the byte count
    assert lru.nbytes == 70


# ------------------------------------------------------------------------ the server
@pytest.fixture
def client():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    return TestClient(FastAPI(routes=routes()))


def _tile_url(exp, root=0, level=0, x=0, y=0, token=None, hash_=None):
    return f"/explore/tile/{token or exp.token}/{hash_ or exp.hash}/{root}/{level}/{x}/{y}.png"


def test_tiles_are_served_cached_and_private(client, code, other_code, monkeypatch):
    from app import explore_server

    service = TileService(prefetch=False)
    monkeypatch.setattr(explore_server, "SERVICE", service)
    mine, theirs = service.start(code, "mine"), service.start(other_code, "theirs")
    mine.config()  # registers the home root as root 0
    theirs.config()
    r = client.get(_tile_url(mine))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (256, 256)
    assert "private" in r.headers["cache-control"]
    rendered = service.rendered
    again = client.get(_tile_url(mine))
    assert again.content == r.content and service.rendered == rendered  # from the cache
    # Another session's token cannot read this code's tiles, nor can a guessed token.
    assert client.get(_tile_url(mine, token=theirs.token)).status_code == 404
    assert client.get(_tile_url(mine, token="x" * 32)).status_code == 404
    assert client.get(_tile_url(mine, hash_="0" * 64)).status_code == 404
    # Addresses outside the pyramid are a clean 404, not a server error.
    assert client.get(_tile_url(mine, level=2, x=9)).status_code == 404
    assert client.get(_tile_url(mine, root=7)).status_code == 404


def test_the_next_level_is_prefetched(client, code, monkeypatch):
    from app import explore_server

    service = TileService(prefetch=True)
    monkeypatch.setattr(explore_server, "SERVICE", service)
    exp = service.start(code, "mine")
    exp.config()
    assert client.get(_tile_url(exp, level=1, x=1, y=0)).status_code == 200
    children = [service.tile_key(exp, 0, 2, x, y) for x in (2, 3) for y in (0, 1)]
    deadline = time.time() + 120
    while not all(k in service.cache for k in children) and time.time() < deadline:
        time.sleep(0.05)
    assert all(k in service.cache for k in children)


def test_reroot_and_view_routes(client, code, monkeypatch):
    from app import explore_server

    service = TileService(prefetch=False)
    monkeypatch.setattr(explore_server, "SERVICE", service)
    exp = service.start(code, "mine")
    exp.config()
    body = {"root": 0, "u": 0.4, "v": 0.6, "rel": 100.0, "w": 800, "h": 600}
    r = client.post(f"/explore/api/{exp.token}/reroot", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["root"]["id"] == 1 and 1 <= data["rel"] <= 64
    assert client.get(_tile_url(exp, root=1, level=3, x=4, y=4)).status_code == 200
    r = client.post(f"/explore/api/{exp.token}/view", json=body)
    assert r.status_code == 200
    (x, y), zoom = exp.current_view()
    assert abs(float(zoom) - 100.0 * float(tiles.home_zoom(exp.aspect))) < 1e-9
    assert exp.viewer_size == (800, 600)
    assert client.post("/explore/api/nope/view", json=body).status_code == 404
    assert client.post(f"/explore/api/{exp.token}/view", json={**body, "root": 99}).status_code == 400
    assert client.get("/explore/static/openseadragon.min.js").status_code == 200
    assert client.get("/explore/static/..%2F..%2Fui.py").status_code == 404
