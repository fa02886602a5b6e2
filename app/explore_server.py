"""The Explore view's tile server: HTTP routes on the studio's own FastAPI app.

Why routes and not Gradio events: a map asks for dozens of small images a second, in
any order, and cancels most of them as the person keeps zooming. Gradio's queue runs
events one by one per session with a round trip over server-sent events; plain GET
routes let the browser's image loader fetch, cache and cancel tiles itself. The routes
are added to the app Gradio builds (``launch(app_kwargs={"routes": routes()})``).

Access: an exploration is made by the session that holds a code and gets an
unguessable token (``secrets.token_urlsafe``); tile URLs carry the token and the code's
hash, and a token only reads tiles of its own code. Tiles of the same code are shared
through one cache, keyed by the code's hash, the reference of the tile's depth (below),
the root and the tile address. Closing a session forgets its map (``forget``).

Tone: one set of levels per exploration and depth (``tiles.tone_depth``), from a
reference view chosen where the person was looking when the map first needed that
depth (``tiles.reference_view``) and kept for every root after: all tiles of a depth
agree (no seams), re-rooting does not change how a depth looks, and deep levels are
stretched as much as the contrast they have left (DESIGN.md section 4): a map at 1e9x
shows its detail.

Speed: a tile already in the cache is answered on the event loop by a plain Starlette
route (no thread hop, no parameter models) with an ETag and ``immutable``, so the
browser does not ask again and a revalidation is a 304; only a miss goes to a thread.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources

import torch
from fastapi import HTTPException
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from collage_core import tiles
from collage_core.code import FractalCode
from collage_core.image_io import to_image
from collage_core.palette import PALETTES, Palette, parse_colour
from collage_core.view_spec import code_hash
from collage_core.viewport import MAX_ZOOM, ViewRenderer

from .lru import ByteLRU

TILE_CACHE_BYTES = 256 * 2**20  # ~2000 tiles: a few minutes of exploring, well under the machine's memory
MAX_EXPLORATIONS = 64  # open maps (one per session and code); the oldest is forgotten
MAX_CODES = 4  # codes with renderers kept warm (each holds a few dense levels, ~25 MB)
RENDERERS_PER_CODE = 2  # two tiles at once: one per core
MAX_ROOTS = 64  # pyramids one exploration keeps addressable (older tile URLs then 404)
PREFETCH_QUEUE = 48  # children of the latest requested tiles; older wishes are dropped
PNG_LEVEL = 1  # 3x faster than the default and ~10% larger: tiles are made on the fly
STATIC_FILES = {
    "openseadragon.min.js": ("openseadragon/openseadragon.min.js", "text/javascript"),
    "openseadragon-LICENSE.txt": ("openseadragon/LICENSE.txt", "text/plain"),
    "explore.js": ("explore.js", "text/javascript"),
    "explore.css": ("explore.css", "text/css"),
}


@dataclass
class Exploration:
    """One session's map of one code.

    Attributes:
        token: the secret in this map's URLs.
        view: where the viewer last settled: ``(centre, zoom)`` exact, and its pixel size.
    """

    token: str
    code: FractalCode
    hash: str
    name: str
    roots: OrderedDict[int, tiles.Root] = field(default_factory=OrderedDict)
    next_root: int = 0
    view: tuple[tuple[Fraction, Fraction], Fraction] | None = None
    viewer_size: tuple[int, int] = (1024, 640)
    # The map's colour: None is colour-true, else a palette painting those levels.
    palette: Palette | None = None
    # Per absolute depth, the reference view its levels come from (chosen once).
    tone_refs: dict[int, tuple[tuple[Fraction, Fraction], Fraction]] = field(default_factory=dict)

    @property
    def aspect(self) -> Fraction:
        return Fraction(self.code.source_size[0], self.code.source_size[1])

    def add_root(self, root: tiles.Root) -> int:
        for rid, known in self.roots.items():
            if known == root:
                self.roots.move_to_end(rid)
                return rid
        rid = self.next_root
        self.next_root += 1
        self.roots[rid] = root
        while len(self.roots) > MAX_ROOTS:
            self.roots.popitem(last=False)
        return rid

    def root(self, rid: int) -> tiles.Root:
        root = self.roots.get(rid)
        if root is None:
            raise KeyError(f"unknown root {rid}")
        return root

    def current_view(self) -> tuple[tuple[Fraction, Fraction], Fraction]:
        """The last settled view, or the whole image."""
        if self.view is not None:
            return self.view
        return (Fraction(1, 2), Fraction(1, 2)), Fraction(1)

    def config(self, center=None, zoom=None) -> dict:
        """What the page's viewer needs to show this map at ``(center, zoom)`` (default: the whole image)."""
        view = None  # the viewer fits the whole image
        if center is None:
            root = tiles.home_root(self.aspect)
        else:
            root = tiles.root_for(center, zoom, self.aspect)
            fu, fv = root.to_viewer(center[0], center[1], self.aspect)
            view = {"u": float(fu), "v": float(fv), "rel": float(zoom / root.zoom)}
        home = self.add_root(tiles.home_root(self.aspect))
        rid = self.add_root(root)
        return {
            "home": self.root_info(home),
            "token": self.token,
            "hash": self.hash,
            "name": self.name,
            "aspect": float(self.aspect),
            "levels": tiles.LEVELS,
            "tile": tiles.TILE,
            "root": self.root_info(rid),
            "view": view,
        }

    def root_info(self, rid: int) -> dict:
        root = self.roots[rid]
        return {"id": rid, "zoom": float(root.zoom), "max_rel": float(Fraction(MAX_ZOOM) / root.zoom)}


class _RendererPool:
    """A few renderers of one code; ``ViewRenderer`` keeps caches and is not thread-safe."""

    def __init__(self, code: FractalCode, size: int):
        import queue

        self.free: queue.Queue[ViewRenderer] = queue.Queue()
        for _ in range(size):
            self.free.put(ViewRenderer(code, "cpu"))

    def render(self, fn):
        renderer = self.free.get()
        try:
            return fn(renderer)
        finally:
            self.free.put(renderer)


class TileService:
    """Explorations, renderers, the tile cache and the prefetcher of one server process."""

    def __init__(self, cache_bytes: int = TILE_CACHE_BYTES, prefetch: bool = True):
        self.cache = ByteLRU(cache_bytes)
        self.explorations: OrderedDict[str, Exploration] = OrderedDict()
        self._pools: OrderedDict[str, _RendererPool] = OrderedDict()
        self._levels: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self._busy = 0  # tiles someone is waiting for: the prefetcher yields to them
        self._wishes: deque[tuple] = deque(maxlen=PREFETCH_QUEUE)
        self._wake = threading.Event()
        self.prefetch = prefetch
        self.rendered = 0
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------- explorations
    def start(self, code: FractalCode, name: str = "collage", colour: str = "true") -> Exploration:
        """A new exploration of ``code`` with a fresh secret token, in ``colour`` ("true" or a palette)."""
        look, palette = parse_colour(colour)
        if look != "colour":
            raise ValueError(
                f"a map is colour-true or a palette, not {colour!r}: choose true or one of {list(PALETTES)}"
            )
        exp = Exploration(token=secrets.token_urlsafe(24), code=code, hash=code_hash(code), name=name, palette=palette)
        with self._lock:
            self.explorations[exp.token] = exp
            while len(self.explorations) > MAX_EXPLORATIONS:
                self.explorations.popitem(last=False)
        return exp

    def forget(self, token: str) -> None:
        """Drop a map: its token stops working, and its code's renderers go when no other
        map holds that code (its tiles stay in the shared cache, readable only by a token
        of that code)."""
        with self._lock:
            exp = self.explorations.pop(token, None)
            if exp is None:
                return
            if not any(e.hash == exp.hash for e in self.explorations.values()):
                self._pools.pop(exp.hash, None)
            self._wishes = deque((w for w in self._wishes if w[0] is not exp), maxlen=PREFETCH_QUEUE)

    def get(self, token: str, hash_: str | None = None) -> Exploration:
        """The exploration of ``token``; 404 for an unknown token or another code's hash."""
        with self._lock:
            exp = self.explorations.get(token)
            if exp is not None:
                self.explorations.move_to_end(token)
        if exp is None or (hash_ is not None and not secrets.compare_digest(hash_, exp.hash)):
            # Same answer for both: a stranger learns nothing about which tokens exist.
            raise HTTPException(status_code=404, detail="no such map (reload the Explore tab)")
        return exp

    # ----------------------------------------------------------------------- tiles
    def _pool(self, exp: Exploration) -> _RendererPool:
        with self._lock:
            pool = self._pools.get(exp.hash)
            if pool is None:
                pool = self._pools[exp.hash] = _RendererPool(exp.code, RENDERERS_PER_CODE)
                while len(self._pools) > MAX_CODES:
                    self._pools.popitem(last=False)
            self._pools.move_to_end(exp.hash)
        return pool

    def tone_ref(self, exp: Exploration, root: tiles.Root, level: int) -> tuple[str, tuple, Fraction]:
        """``(key, centre, zoom)`` of the reference view of this depth of ``exp``: the first
        root to need the depth picks it, every later root reuses it."""
        depth = tiles.tone_depth(root, exp.aspect, level)
        with self._lock:
            ref = exp.tone_refs.get(depth)
            if ref is None:
                ref = exp.tone_refs[depth] = tiles.reference_view(root, exp.aspect, level)
        (cx, cy), zoom = ref
        return f"{cx},{cy},{zoom}", (cx, cy), zoom

    def levels(self, exp: Exploration, root: tiles.Root, level: int) -> torch.Tensor:
        """The tone levels of one pyramid level of ``root``: its depth's (computed once, then cached)."""
        ref, center, zoom = self.tone_ref(exp, root, level)
        key = (exp.hash, ref, exp.palette is not None)  # a palette's levels span its whole ramp
        with self._lock:
            lv = self._levels.get(key)
        if lv is not None:
            return lv
        lv = self._pool(exp).render(
            lambda r: tiles.tone_levels(
                tiles.render_exact(r, center, zoom, (tiles.TILE, tiles.TILE)), r, zoom, exp.palette
            )
        )
        with self._lock:
            lv = self._levels.setdefault(key, lv)  # two threads at once: both use the first
            while len(self._levels) > 4096:
                self._levels.popitem(last=False)
        return lv

    def tile_key(self, exp: Exploration, rid: int, level: int, x: int, y: int) -> tuple:
        """The cache key of a tile: the code, its depth's reference, the root, the address."""
        try:
            root = exp.root(rid)
        except KeyError:
            raise HTTPException(status_code=404, detail="this map was re-rooted long ago; reload") from None
        try:
            tiles.tile_view(root, exp.aspect, level, x, y)
        except ValueError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        colour = exp.palette.spec if exp.palette is not None else "true"
        return (exp.hash, self.tone_ref(exp, root, level)[0], root.key, level, x, y, colour)

    def tile_png(
        self, exp: Exploration, rid: int, level: int, x: int, y: int, wait: bool = True, key: tuple | None = None
    ) -> bytes:
        """The PNG of a tile, from the cache or rendered now (and its children queued for prefetch).

        ``key``: the tile's :meth:`tile_key` when the caller already has it (it costs a view check).
        """
        key = key if key is not None else self.tile_key(exp, rid, level, x, y)
        root = exp.root(rid)
        png = self.cache.get(key)
        if png is None:
            with self._lock:
                self._busy += wait
            try:
                png = self._render_png(exp, root, level, x, y)
            finally:
                with self._lock:
                    self._busy -= wait
            self.cache.put(key, png)
        if wait:
            self.wish_children(exp, rid, level, x, y)
        return png

    def wish_children(self, exp: Exploration, rid: int, level: int, x: int, y: int) -> None:
        """Queue the four tiles under this one for the prefetcher (the person may zoom in)."""
        if self.prefetch and level < tiles.LEVELS:
            for cy in (2 * y, 2 * y + 1):
                for cx in (2 * x, 2 * x + 1):
                    self._wishes.append((exp, rid, level + 1, cx, cy))
            if self._thread is None:
                with self._lock:
                    if self._thread is None:
                        self._thread = threading.Thread(
                            target=self._prefetch_loop, name="explore-prefetch", daemon=True
                        )
                        self._thread.start()
            self._wake.set()

    def _render_png(self, exp: Exploration, root: tiles.Root, level: int, x: int, y: int) -> bytes:
        lv = self.levels(exp, root, level)
        raw = self._pool(exp).render(lambda r: tiles.render_tile(r, root, level, x, y))
        image = to_image(tiles.tone(raw, lv, exp.palette).float())
        buf = io.BytesIO()
        image.save(buf, "PNG", compress_level=PNG_LEVEL)
        self.rendered += 1
        return buf.getvalue()

    def _prefetch_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    busy = self._busy
                if busy:  # someone waits for a tile: let them have the CPU
                    self._wake.wait(0.05)
                    continue
                try:
                    exp, rid, level, x, y = self._wishes.pop()  # newest first: where the person is now
                except IndexError:
                    break
                try:
                    if exp.token in self.explorations and self.tile_key(exp, rid, level, x, y) not in self.cache:
                        self.tile_png(exp, rid, level, x, y, wait=False)
                except Exception:  # noqa: BLE001 - a failed prefetch is only a missed chance
                    continue

    # ---------------------------------------------------------------------- views
    def reroot(self, exp: Exploration, rid: int, u: float, v: float, rel: float) -> dict:
        """Move the pyramid under the viewer; returns the new root and where the view is in it."""
        try:
            root = exp.root(rid)
            moved = tiles.reroot(root, exp.aspect, u, v, rel)
        except (KeyError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        new_id = exp.add_root(moved.root)
        return {"root": exp.root_info(new_id), "u": moved.u, "v": moved.v, "rel": moved.rel, "box": moved.box}

    def set_view(self, exp: Exploration, rid: int, u: float, v: float, rel: float, w: int, h: int) -> dict:
        try:
            center, zoom = tiles.view_of(exp.root(rid), exp.aspect, u, v, rel)
        except (KeyError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        zoom = min(max(zoom, Fraction(1)), Fraction(MAX_ZOOM))
        exp.view = (center, zoom)
        exp.viewer_size = (max(16, min(int(w), 4096)), max(16, min(int(h), 4096)))
        return {"zoom": float(zoom)}


SERVICE = TileService()


# ------------------------------------------------------------------------------ routes
class _ViewBody(BaseModel):
    root: int
    u: float
    v: float
    rel: float
    w: int = 1024
    h: int = 640


async def _tile(request: Request) -> Response:
    # On the event loop: a cached tile costs a dict lookup; a miss renders in a thread.
    p = request.path_params
    service = SERVICE
    exp = service.get(p["token"], p["code_hash"])
    address = (exp, p["root"], p["level"], p["x"], p["y"])
    key = service.tile_key(*address)
    # Private: the URL holds a secret. Immutable: a tile address never changes its pixels.
    headers = {
        "Cache-Control": "private, max-age=86400, immutable",
        "ETag": '"' + hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest() + '"',
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        service.wish_children(*address)  # the ETag names the key, and the key the pixels
        return Response(status_code=304, headers=headers)
    png = service.cache.get(key)
    if png is not None:
        service.wish_children(*address)
    else:
        png = await run_in_threadpool(service.tile_png, *address, key=key)
    return Response(png, media_type="image/png", headers=headers)


def _reroot(token: str, body: _ViewBody) -> dict:
    return SERVICE.reroot(SERVICE.get(token), body.root, body.u, body.v, body.rel)


def _view(token: str, body: _ViewBody) -> dict:
    return SERVICE.set_view(SERVICE.get(token), body.root, body.u, body.v, body.rel, body.w, body.h)


def _static(name: str) -> Response:
    entry = STATIC_FILES.get(name)
    if entry is None:
        raise HTTPException(status_code=404, detail="not found")
    path, media = entry
    data = resources.files("app").joinpath("static", *path.split("/")).read_bytes()
    return Response(data, media_type=media, headers={"Cache-Control": "public, max-age=600"})


def routes() -> list[APIRoute | Route]:
    """The Explore routes, for ``launch(app_kwargs={"routes": routes()})``."""
    return [
        APIRoute("/explore/static/{name}", _static, methods=["GET"], include_in_schema=False),
        Route(
            "/explore/tile/{token}/{code_hash}/{root:int}/{level:int}/{x:int}/{y:int}.png",
            _tile,
            methods=["GET"],
            include_in_schema=False,
        ),
        APIRoute("/explore/api/{token}/reroot", _reroot, methods=["POST"], include_in_schema=False),
        APIRoute("/explore/api/{token}/view", _view, methods=["POST"], include_in_schema=False),
    ]
