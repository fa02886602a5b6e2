"""The studio's presets, sessions and page-only handlers, as plain functions without a server."""

import math
import os
import time

import numpy as np
import pytest
from conftest import textured
from PIL import Image

import collage_core as cc
from app import callbacks, limits, ui
from app.session import Session, sweep, temp_root
from app.tabs.common import CELLS, cells_value
from app.tabs.fractalize_request import FractalizeRequest
from collage_core import FractalizeConfig, presets


# ---------------------------------------------------------------------------- presets
def test_builtin_presets_are_named_looks():
    found = {p.name: p for p in presets.list_presets(include_user=False)}
    assert len(found) >= 6
    assert {"snowflake", "subtle", "kaleidoscope", "deep-zoom"} <= set(found)
    for p in found.values():
        assert p.description and p.config() is not None
        assert p.path.stat().st_size < 1024  # small and human-readable
    # The zoom look loops through blended cells (cross-faded), so its 1x is the photo, not a mosaic.
    deep = found["deep-zoom"].config()
    assert found["deep-zoom"].zoom["loop"] is True and deep.layout().kind == "blend" and deep.copies == 1
    assert deep.shared_weights  # colour-true copies (the default): a loop does not drift into a tint
    assert not found["natural"].config().shared_weights  # the faithful look keeps a weight per channel
    assert callbacks.loop_config(deep) == deep


def test_a_loop_plants_its_cell_only_in_hard_cells():
    hard = callbacks.resolve_config("mosaic")
    assert hard.layout().kind == "grid" and callbacks.loop_config(hard).plant_loop
    for blended in (callbacks.resolve_config(), callbacks.resolve_config("mosaic", blend=True)):
        assert blended.layout().kind == "blend" and not callbacks.loop_config(blended).plant_loop
    adaptive = callbacks.resolve_config(adaptive=True, blend=False, grid=8)
    assert callbacks.loop_config(adaptive) == adaptive  # a quadtree cannot plant one


def test_presets_save_load_and_user_override(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    mine = presets.Preset("subtle", 'Mine: "quoted"', fractalize={"grid": 12}, render={"magnify": 2.5})
    path = presets.save_preset(mine)
    assert path == tmp_path / "subtle.toml"
    loaded = presets.load_preset("subtle")
    assert loaded.path == path and loaded.config().grid == 12 and loaded.description == 'Mine: "quoted"'
    assert loaded.render == {"magnify": 2.5}
    assert {p.name: p for p in presets.list_presets()}["subtle"].path == path
    with pytest.raises(ValueError, match="already exists"):
        presets.save_preset(mine, overwrite=False)


@pytest.mark.parametrize(
    "text,message",
    [
        ("description = 'x'\n[fractalize]\ngrid = 'big'\n", "grid must be an integer"),
        ("[fractalize]\nfoo = 1\n", "unknown \\[fractalize\\] settings"),
        ("[zoom]\nloop = 'yes'\n", "loop must be bool"),
        ("description = \n", "not valid TOML"),
        ("[render]\nstart = 'sepia'\n", "start must be 'noise' or 'gray'"),
    ],
)
def test_bad_preset_files_are_explained(tmp_path, text, message):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        presets.read_preset(path)


def test_invalid_preset_names():
    with pytest.raises(ValueError, match="preset name"):
        presets.Preset("../evil")


# ---------------------------------------------------------------------------- session
def test_sessions_own_separate_folders_and_clean_up():
    a, b = Session(), Session()
    pa, pb = a.new_path("x", ".png"), b.new_path("x", ".png")
    pa.write_bytes(b"a")
    pb.write_bytes(b"b")
    assert pa.parent != pb.parent and pa.parent.parent == temp_root()
    a.close()
    assert not pa.exists() and pb.exists()
    b.close()


def test_sweep_removes_abandoned_session_folders():
    s = Session()
    path = s.new_path("old", ".png")
    path.write_bytes(b"x")

    os.utime(path.parent, (time.time() - 10_000, time.time() - 10_000))
    assert sweep(max_age_s=3600) >= 1
    assert not path.exists()


def test_gradio_state_copies_start_fresh():
    import copy

    s = Session()
    s.name = "mine"
    assert copy.deepcopy(s).name == "collage"


# ------------------------------------------------------------------ page-only handlers
def test_choosing_a_preset_moves_the_controls():
    grid, symmetries, strength, refine, iterations, start, magnify, _, copies, cells, tint = ui.apply_preset(
        "snowflake"
    )
    snow = presets.load_preset("snowflake")
    assert (grid, symmetries, strength) == (snow.config().grid, "d4", snow.config().strength)
    assert magnify == snow.render["magnify"] and iterations == 0 and start == "noise"
    assert ui.apply_preset(ui.NO_PRESET)[:3] == (32, "d4", FractalizeConfig().strength)  # back to the defaults
    assert copies == "1" and ui.apply_preset("natural")[8] == "soft"
    assert cells == cells_value(snow.config().blend) and cells in dict(CELLS).values()
    assert tint == "shared" and ui.apply_preset("natural")[10] == "per-channel"


def test_the_copy_colours_control_sets_shared_weights_end_to_end(example_photo, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    assert FractalizeRequest(photo=None).config().shared_weights is FractalizeConfig().shared_weights is True
    natural = FractalizeRequest(photo=None, preset="natural", copy_colours="per-channel").config()
    assert natural.shared_weights is presets.load_preset("natural").config().shared_weights is False
    assert FractalizeRequest(photo=None, preset="natural", copy_colours="shared").config().shared_weights is True
    with pytest.raises(ValueError, match="Copy colours must be one of shared, per-channel"):
        FractalizeRequest(photo=None, copy_colours="teal").config()
    # The fit: shared weights give every colour channel the same copy weights, per channel does not.
    weights = {}
    for tint in ("shared", "per-channel"):
        _, _, code_path = ui.fractalize(str(example_photo), grid=8, copy_colours=tint, session=Session())
        a = cc.FractalCode.load(code_path).a
        weights[tint] = (a - a[:1]).abs().max().item()
    assert weights["shared"] == 0 and weights["per-channel"] > 1e-3
    # A saved preset keeps the choice and moves the control back to it.
    session = Session()
    ui.save_user_preset("tinted", "", 16, "d4", 0.2, 0, 0, "noise", 1, session, "1", "blended", "true", "per-channel")
    assert session.presets["tinted"].config().shared_weights is False
    assert ui.apply_preset("tinted", session=session)[10] == "per-channel"
    ui.save_user_preset("plain", "", 16, "d4", 0.2, 0, 0, "noise", 1, session, "1", "blended", "true", "shared")
    assert session.presets["plain"].config().shared_weights is True


def test_the_cells_control_sets_blend_and_follows_the_library_default():
    assert FractalizeRequest(photo=None).cells == cells_value(FractalizeConfig().blend)
    for label, value in CELLS:
        config = FractalizeRequest(photo=None, grid=8, cells=value).config()
        assert cells_value(config.blend, config.adaptive) == value, label
    # A preset's blend is overridden by the control (which the preset moved when it was chosen).
    snow = presets.load_preset("snowflake").name
    assert FractalizeRequest(photo=None, preset=snow, cells="blended").config().blend is True
    with pytest.raises(ValueError, match="Cells must be one of"):
        FractalizeRequest(photo=None, cells="soft").config()


def test_adaptive_cells_keep_the_grid_budget_and_round_trip_through_presets(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    config = FractalizeRequest(photo=None, grid=32, cells="adaptive").config()
    assert (config.adaptive, config.blend, config.grid, config.cells_budget) == (True, None, 8, 1024)
    assert config.quadtree_blend() is not None  # blended leaves, the library default
    hard = FractalizeRequest(photo=None, grid=32, cells="adaptive-hard").config()
    assert (hard.adaptive, hard.blend, hard.cells_budget) == (True, False, 1024)
    odd = FractalizeRequest(photo=None, grid=20, cells="adaptive").config()
    assert (odd.grid, odd.cells_budget) == (4, 400)  # the root is a power of two
    back = FractalizeRequest(photo=None, grid=32, cells="hard").config()
    assert (back.adaptive, back.max_cells, back.grid) == (False, None, 32)
    session = Session()
    ui.save_user_preset("quad", "", 32, "d4", 0.2, 0, 0, "noise", 1, session=session, copies="1", cells="adaptive")
    grid, *_, cells, _ = ui.apply_preset("quad", session=session)
    assert (grid, cells) == (32, "adaptive")
    assert session.presets["quad"].config() == config
    ui.save_user_preset(
        "quadh", "", 32, "d4", 0.2, 0, 0, "noise", 1, session=session, copies="1", cells="adaptive-hard"
    )
    assert ui.apply_preset("quadh", session=session)[-2] == "adaptive-hard"
    assert session.presets["quadh"].config() == hard
    assert FractalizeRequest(photo=None, preset="quad", grid=grid, cells=cells).config(session) == config


def test_adaptive_cells_fit_from_the_studio(photo_path):
    _, readout, code_path = ui.fractalize(str(photo_path), grid=16, cells="adaptive", session=Session())
    code = cc.FractalCode.load(code_path)
    assert code.layout.kind == "quadtree" and code.grid == 4 and 16 < code.layout.cells <= 256
    assert f"**adaptive** {code.layout.cells} cells from 4×4" in readout


def test_blended_cells_change_the_collage(photo_path):
    hard = ui.fractalize(str(photo_path), grid=8, cells="hard", session=Session())[0]
    blended = ui.fractalize(str(photo_path), grid=8, cells="blended", session=Session())[0]
    a, b = (np.asarray(Image.open(p), dtype=np.float64) for p in (hard, blended))
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.5


def test_a_look_moves_the_zoom_controls():
    depth, seconds, fps, easing, loop, pingpong, colour = ui.apply_zoom_look("deep-zoom")
    z = presets.load_preset("deep-zoom").zoom
    assert abs(10**depth - z["zoom"]) < 1e-6 * z["zoom"] and loop is True and easing == z["easing"]
    assert pingpong == {"__type__": "update"} and colour == pingpong  # not set by the look: left as it is


def _frames(path):
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB"), dtype=np.float64))
        return out


def test_zoom_from_the_fractalize_tab_and_from_a_dropped_photo_agree(photo_path):
    """One zoom look: the same photo and look give the same zoom, whichever way the photo came in."""
    session = Session()
    panels = ui.fractalize_panels(str(photo_path), grid=8, copies="soft", session=session)
    zoom_image = panels[-1]  # the attractor the Fractalize tab puts in the Zoom tab
    args = dict(preset="deep-zoom", target="0.3, 0.6", depth=2.0, seconds=1.0, fps=6, size="128×128")
    from_tab = ui.zoom(zoom_image, session=session, **args)[-1]
    dropped = ui.zoom(str(photo_path), session=Session(), **args)[-1]
    tab_frames, drop_frames = _frames(from_tab), _frames(dropped)
    assert len(tab_frames) == len(drop_frames) == 6
    assert max(np.abs(a - b).mean() for a, b in zip(tab_frames, drop_frames, strict=True)) < 0.5
    # ...and it is the deep-zoom look (sharp copies), not the soft collage fitted on the tab.
    assert session.zoom_code[1].meta["copies"] == 1 and session.code.meta["copies"] == "soft"
    # No look: the Fractalize tab's own collage, as it is.
    ui.zoom(zoom_image, session=session, **{**args, "preset": ui.NO_PRESET})
    assert session.zoom_code[1].meta["copies"] == 1  # no refit happened


def test_the_dive_target_is_marked(photo_path):
    plain = np.asarray(Image.open(photo_path).convert("RGB"), dtype=np.float64)
    marked = np.asarray(ui.mark_target(str(photo_path), "0.25, 0.75"), dtype=np.float64)
    changed = np.abs(marked - plain).sum(-1) > 30
    ys, xs = np.nonzero(changed)
    assert changed.any() and abs(xs.mean() - 0.25 * 96) < 4 and abs(ys.mean() - 0.75 * 96) < 4
    assert ui.mark_target(str(photo_path), "") is None


def test_a_studio_loop_works_at_the_deepest_depth_its_slider_offers(photo_path):
    depth = math.log10(limits.MAX_ZOOM)
    for look in ("deep-zoom", "mosaic"):  # a cross-faded loop (blended cells), and a planted one (hard)
        out = ui.zoom(str(photo_path), preset=look, depth=depth, loop=True, seconds=1, fps=4, size="128×128")
        assert len(_frames(out[-1])) == 4


def test_saving_the_controls_as_a_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    session = Session()
    update, _ = ui.save_user_preset("My Look", "soft and tiled", 12, "rot", 0.4, 0, 3, "gray", 2, session)
    assert update["value"] == "my-look" and "my-look" in update["choices"]
    saved = session.presets["my-look"]
    assert saved.config().grid == 12 and saved.config().symmetries == "rot"
    assert saved.render == {"magnify": 2.0, "iterations": 3, "start": "gray"}
    ui.save_user_preset("Blended", "", 12, "rot", 0.4, 0, 0, "noise", 1, session, "1", "blended")
    assert session.presets["blended"].config().blend is True
    assert ui.apply_preset("blended", session)[-2] == "blended"
    with pytest.raises(Exception, match="preset name"):
        ui.save_user_preset("../../etc", "", 12, "rot", 0.4, 0, 0, "noise", 1, session)


def test_cancel_reaches_running_work_even_when_later_work_starts():
    # One switch per job: a job started after Cancel (a queued live preview, say) gets its
    # own switch and cannot clear the one Cancel set for the job already running.
    import threading

    from app.guard import friendly
    from app.tabs.common import cancel
    from collage_core.cancel import check_cancelled

    session = Session()
    started, release, seen = threading.Event(), threading.Event(), {}

    @friendly
    def long_job(session=None):
        started.set()
        release.wait(10)
        seen["switch"] = session.cancel.is_set()
        check_cancelled()  # the guard's scope: raises Cancelled, which the guard turns into a message
        return "finished"

    @friendly
    def later_job(session=None):
        return session.cancel.is_set()

    worker = threading.Thread(target=lambda: seen.setdefault("result", long_job(session=session)))
    worker.start()
    assert started.wait(10)
    cancel(session)
    assert later_job(session=session) is False  # its own, fresh switch
    release.set()
    worker.join(10)
    assert seen["switch"] is True and seen["result"] != "finished"
    assert not session.cancel.is_set() and session._jobs == {}  # nothing left behind


@pytest.mark.parametrize("blend", [False, True])
def test_studio_magnification_keeps_the_decoded_square_within_the_limit(blend):
    # The decoder works at the layout's next exact side: blended cells round to 2 * grid.
    from app.budget import studio_magnify
    from collage_core.decode import nearest_exact_side

    code = cc.fractalize(textured(72, 60, seed=4), grid=12, blend=blend)
    w, h = code.source_size
    m = studio_magnify(code, 1000.0)
    side = max(round(w * m), round(h * m))
    assert nearest_exact_side(side, code.layout) <= limits.MAX_DECODE_SIDE
    assert m > 0.9 * limits.MAX_DECODE_SIDE / max(w, h) - 1  # and not needlessly small
