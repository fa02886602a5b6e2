"""An exploration's tone stays put when the map re-roots; a closed session forgets its map."""

import io
from fractions import Fraction

import numpy as np
import pytest
from conftest import textured
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import collage_core as cc
from app import explore_server
from app.explore_server import TileService, routes
from app.session import Session
from collage_core import tiles


@pytest.fixture(scope="module")
def square_code():
    # Square, so a dyadic root's tiles line up with the home root's at the same depth.
    return cc.fractalize(textured(64, 64, seed=5), grid=8, symmetries="d4")


@pytest.fixture
def service(monkeypatch):
    service = TileService(prefetch=False)
    monkeypatch.setattr(explore_server, "SERVICE", service)
    return service


def _png(client, exp, rid, level, x, y) -> np.ndarray:
    r = client.get(f"/explore/tile/{exp.token}/{exp.hash}/{rid}/{level}/{x}/{y}.png")
    assert r.status_code == 200
    return np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.int16)


def test_rerooting_keeps_the_tone_of_every_depth(square_code, service):
    """The same square of the image at the same depth, before and after a re-root, is the same tile."""
    client = TestClient(FastAPI(routes=routes()))
    exp = service.start(square_code, "mine")
    exp.config()
    # Tile (22 + i, 38 + j) of the home root's level 6 is tile (i, j) of the level 2 of a
    # root of zoom 16 centred at (3/8, 5/8): its corner is (3/8 - 1/32, 5/8 - 1/32).
    before = _png(client, exp, 0, 6, 23, 39)
    body = {"root": 0, "u": 0.375, "v": 0.625, "rel": 64.0}
    moved = client.post(f"/explore/api/{exp.token}/reroot", json=body).json()
    new = exp.root(moved["root"]["id"])
    assert new == tiles.Root(Fraction(3, 8), Fraction(5, 8), Fraction(16))
    after = _png(client, exp, moved["root"]["id"], 2, 1, 1)
    assert before.std() > 2  # a picture, not a flat tint
    assert np.abs(after - before).max() <= 1  # same pixels, same levels
    # The depth's levels are one object, whichever root asks.
    assert service.levels(exp, exp.root(0), 6) is service.levels(exp, new, 2)
    # Deeper depths still get their own stretch: the detail there has less contrast.
    deep = service.levels(exp, new, 6)
    assert not np.allclose(deep.numpy(), service.levels(exp, new, 2).numpy())


def test_a_new_exploration_picks_its_own_references(square_code, service):
    first, second = service.start(square_code, "a"), service.start(square_code, "b")
    deep = tiles.Root(Fraction(3, 8), Fraction(5, 8), Fraction(16))
    service.levels(first, deep, 3)  # `first` met depth 7 here; `second` first at the top
    service.levels(second, tiles.home_root(Fraction(1)), 7)
    assert first.tone_refs[7] != second.tone_refs[7]
    # So their tiles of that depth are cached apart.
    assert (
        service.tile_key(first, first.add_root(deep), 3, 0, 0)[1]
        != service.tile_key(second, second.add_root(deep), 3, 0, 0)[1]
    )


def test_closing_the_session_forgets_its_map(square_code, service):
    client = TestClient(FastAPI(routes=routes()))
    session, other = Session(code=square_code), Session(code=square_code)
    session.exploration = service.start(square_code, "mine")
    other.exploration = service.start(square_code, "theirs")
    for s in (session, other):
        s.exploration.config()
        assert _png(client, s.exploration, 0, 0, 0, 0).shape[:2] == (256, 256)
    token, code_hash = session.exploration.token, session.exploration.hash
    session.close()
    assert session.exploration is None and token not in service.explorations
    assert client.get(f"/explore/tile/{token}/{code_hash}/0/0/0/0.png").status_code == 404
    assert code_hash in service._pools  # the other session still explores this code
    other.close()
    assert not service.explorations and code_hash not in service._pools  # renderers dropped


def test_a_cached_tile_is_immutable_and_revalidates_to_304(square_code, service):
    client = TestClient(FastAPI(routes=routes()))
    exp = service.start(square_code, "mine")
    exp.config()
    url = f"/explore/tile/{exp.token}/{exp.hash}/0/1/1/0.png"
    first = client.get(url)
    assert "immutable" in first.headers["cache-control"] and "private" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": '"stale"'}).content == first.content
    # Another tile has another tag; a stranger's token gets nothing, tag or not.
    assert client.get(url.replace("/1/0.png", "/0/1.png")).headers["etag"] != etag
    stranger = url.replace(exp.token, "x" * 32)
    assert client.get(stranger, headers={"If-None-Match": etag}).status_code == 404
