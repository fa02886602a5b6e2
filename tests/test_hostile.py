"""Issue 11's hostile inputs, one or more cases per finding; heavy cases run under an address-space cap.

The memory cases run in a child process with ``RLIMIT_AS`` set, so a regression that
tries to decode a 32768^2 square fails this test (MemoryError in the child) instead of
taking the machine down.
"""

import dataclasses
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import REPO, panel_controls, textured
from hostile_inputs import code_file, edit_metadata, nested_json, png, small_code
from PIL import Image

import collage_core as cc
from app import budget, callbacks, guard, inputs, limits, sweep, ui
from app.session import Session

CAP_BYTES = 3 * 2**30  # the server target; the unfixed studio needed 12-27 GiB here


def run_capped(script: str, cap: int = CAP_BYTES, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh Python whose address space is capped at ``cap`` bytes."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + str(REPO / "tests"), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


# ------------------------------------------------------------------ 1. memory (critical)
def test_the_address_space_cap_catches_a_runaway_render():
    # The harness itself: the unfixed cause (a 32768^2 float32 square) fails under the cap.
    result = run_capped("import torch; torch.empty(32768, 32768); print('allocated')")
    assert result.returncode != 0 and "allocated" not in result.stdout


def test_extreme_aspects_stay_bounded_in_the_studio_and_the_cli(tmp_path):
    script = f"""
        import json, sys
        from pathlib import Path
        import gradio as gr
        from PIL import Image
        from app import cli, ui
        from hostile_inputs import code_file, png
        d = Path({str(tmp_path)!r})
        out = {{}}

        def studio(key, fn, *args, **kwargs):
            try:
                result = fn(*args, **kwargs)
                out[key] = ["ok", Image.open(result[0]).size]
            except gr.Error as exc:
                out[key] = ["refused", exc.message]

        studio("strip", ui.fractalize, str(png(d, "strip.png", (20000, 8))))
        studio("wide16", ui.fractalize, str(png(d, "wide.png", (2000, 100))), magnify=16)
        studio("tall4", ui.fractalize, str(png(d, "tall.png", (16, 2000))), magnify=4)
        studio("edge16", ui.fractalize, str(png(d, "edge.png", (2048, 128))), magnify=16)
        claims = code_file(d, "claims.collage", source_size="65536,1")
        studio("code", ui.load_code_file, str(claims))
        big = code_file(d, "big.collage", source_size="32768,2048")
        studio("bigcode", ui.load_code_file, str(big))
        out["cli"] = cli.main(["fractalize", str(claims), "-o", str(d / "c.png")])
        out["cli_big"] = cli.main(["fractalize", str(big), "-o", str(d / "b.png")])
        print(json.dumps(out))
    """
    result = run_capped(script)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("strip", "wide16", "tall4"):
        assert out[key][0] == "refused" and "strip" in out[key][1] and "16" in out[key][1], out[key]
    status, (w, h) = out["edge16"]  # 16:1 is allowed: magnification reduced to a 4096 px decode
    assert status == "ok" and w <= limits.MAX_DECODE_SIDE and w == 16 * h
    assert out["code"][0] == "refused" and "65536x1" in out["code"][1]
    assert out["bigcode"][0] == "ok", out["bigcode"]
    status, (w, h) = out["bigcode"]  # a valid but huge code: shown smaller, never decoded at 32768
    assert status == "ok" and max(w, h) <= limits.MAX_DECODE_SIDE
    assert out["cli"] == 1 and out["cli_big"] == 1
    assert "source size 65536x1" in result.stderr and "decodes a 32768x32768 square" in result.stderr


def test_code_files_claiming_extreme_sizes_are_refused_on_load(tmp_path):
    for size in ("65536,1", "1,65536", "100000,100000", "0,5", "-3,4"):
        path = code_file(tmp_path, "c.collage", source_size=size)
        with pytest.raises(ValueError, match="source size"):
            cc.FractalCode.load(path)


def test_engine_refuses_renders_whose_decoded_square_is_too_large():
    code = dataclasses.replace(small_code(), source_size=(1600, 100))
    with pytest.raises(ValueError, match="decodes a 12800x12800 square"):
        code.output_size(8)  # 10 MP as pixels, but 164 MP as a decode
    assert max(code.output_size(7.5)) <= cc.code.MAX_DECODE_SIDE


@pytest.mark.parametrize("size", [(20000, 8), (8, 20000), (2000, 100), (16, 2000)])
def test_engine_refuses_strips_before_decoding(size):
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    with pytest.raises(ValueError, match="strip"):
        cc.open_image(arr)


@pytest.mark.parametrize("grid", [2, 3, 5, 7, 32, 100, 128])
@pytest.mark.parametrize("size", [(2048, 128), (128, 2048), (4096, 4096), (3000, 1000), (60000, 3750)])
def test_studio_magnification_keeps_the_decoded_square_within_its_limit(grid, size):
    from collage_core.decode import nearest_exact_side

    m = budget.effective_magnify(size, 16, grid=grid, max_side=limits.MAX_DECODE_SIDE)
    out = (max(1, round(size[0] * m)), max(1, round(size[1] * m)))
    assert nearest_exact_side(max(out), grid) <= limits.MAX_DECODE_SIDE
    assert out[0] * out[1] <= limits.MAX_OUTPUT_PIXELS and m > 0


# ------------------------------------------------------------------ 2. one global limit
def _heavy_fns(demo):
    return {fn.name: fn for fn in demo.fns.values()}


def test_all_heavy_endpoints_share_one_concurrency_limit():
    demo = ui.build_demo()
    fns = _heavy_fns(demo)
    heavy = ["fractalize", "fractalize_panels", "converge", "load_code_file", "zoom", "sample"]
    for name in heavy:
        assert fns[name].concurrency_id == limits.HEAVY_WORK, name
        assert fns[name].concurrency_limit == limits.CONCURRENCY_LIMIT, name
    assert fns["live_preview"].concurrency_id == limits.PREVIEW_WORK
    assert ui.queued(demo)._queue.max_size == limits.QUEUE_MAX_SIZE


def test_nine_requests_on_three_endpoints_run_at_most_two_at_once(monkeypatch, tmp_path):
    from gradio_client import Client, handle_file
    from studio_server import running_studio

    active, peak, lock = [0], [0], threading.Lock()
    real_fit = callbacks.fit

    def counting_fit(*args, **kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.3)  # hold the slot long enough for the others to pile up
            return real_fit(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(callbacks, "fit", counting_fit)
    photo = tmp_path / "p.png"
    textured(64, 64).save(photo)
    panel_args = (handle_file(str(photo)), *panel_controls(grid=8, strength=0.0, cells="hard"))
    with running_studio() as (_, url):
        clients = [Client(url, verbose=False) for _ in range(3)]
        jobs = []
        for i in range(3):
            jobs.append(clients[i].submit(handle_file(str(photo)), grid=8, api_name="/fractalize"))
            jobs.append(clients[i].submit(*panel_args, api_name="/fractalize_panels"))
            jobs.append(
                clients[i].submit(handle_file(str(photo)), "(none)", "", 1, 1, 4, api_name="/zoom", size="128×128")
            )
        for job in jobs:
            job.result(timeout=300)
    assert peak[0] == limits.CONCURRENCY_LIMIT


# ------------------------------------------------------------------ 4. uploads keep their mode
def test_studio_images_keep_the_upload_mode():
    demo = ui.build_demo()
    images = [b for b in demo.blocks.values() if isinstance(b, gr.Image) and b.interactive is not False]
    uploads = [b for b in images if b.sources]
    assert uploads and all(b.image_mode is None for b in uploads)


@pytest.mark.parametrize(
    "mode,size,expect,note",
    [("I;16", (64, 48), "L", "High bit-depth"), ("RGBA", (64, 48), "RGBA", None), ("LA", (64, 48), "LA", None)],
)
def test_uploads_are_fractalized_in_their_own_mode_through_the_server(tmp_path, mode, size, expect, note):
    from gradio_client import Client, handle_file
    from studio_server import running_studio

    path = png(tmp_path, f"in-{mode.replace(';', '')}.png", size, mode)
    reference = np.asarray(cc.open_image(path), dtype=np.float64)
    with running_studio() as (_, url):
        attractor, _, _ = Client(url, verbose=False).predict(handle_file(str(path)), api_name="/fractalize")
    out = Image.open(attractor)
    assert out.mode == expect
    assert abs(np.asarray(out, dtype=np.float64).mean() - reference.mean()) < 8  # not blown out
    if note:
        assert any(note in n for n in callbacks.load_photo(str(path)).notes)


# ------------------------------------------------------------------ 5. messages for a person
def test_nested_json_in_code_metadata_is_explained(tmp_path):
    path = code_file(tmp_path, "nested.collage", extra=nested_json(2000))
    with pytest.raises(ValueError, match="nested .* deep") as err:
        cc.FractalCode.load(path)
    assert "Recursion" not in str(err.value)
    deep_header = b"{" + b'"a":[' * 5000 + b"1" + b"]" * 5000 + b"}"
    data = len(deep_header).to_bytes(8, "little") + deep_header
    with pytest.raises(ValueError, match="not a fractal code file"):
        cc.FractalCode.from_bytes(data)
    with pytest.raises(gr.Error, match="nested"):
        ui.load_code_file(str(path), session=Session())


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"magnify": float("nan")}, "Magnification must be a finite number"),
        ({"grid": float("nan")}, "Grid must be a finite number"),
        ({"grid": 2.5}, "Grid must be a whole number, got 2.5"),
        ({"seed": 2**70}, "Seed must be a whole number between 0 and 4294967295"),
        ({"seed": "abc"}, "Seed must be a number, got 'abc'"),
        ({"iterations": float("inf")}, "Iterations must be a finite number"),
        ({"strength": float("nan")}, "Strength must be a finite number"),
    ],
)
def test_bad_numbers_get_sentences(photo_path, kwargs, message):
    with pytest.raises(gr.Error, match=message):
        ui.fractalize(str(photo_path), session=Session(), **kwargs)


def test_bad_numbers_in_other_tabs():
    with pytest.raises(ValueError, match="Count must be a finite number"):
        callbacks.sample_digits(float("nan"), 4, 1.0, 0, model=object())
    with pytest.raises(ValueError, match="Seed must be"):
        callbacks.sample_digits(4, 4, 1.0, -1, model=object())
    with pytest.raises(ValueError, match="Close-up magnification must be a finite number"):
        callbacks.sample_digits(4, 4, 1.0, 0, model=object(), closeup=float("inf"))
    with pytest.raises(gr.Error, match="Close-up digit #9 is not among the 4 samples"):
        ui.sample(0, 1.0, 4, 40, 9)
    with pytest.raises(gr.Error, match="Frames per second must be"):
        ui.zoom(None, fps=float("nan"), session=Session())


def test_the_seed_field_explains_what_it_cannot_read():
    field = guard.SafeNumber(0, precision=0, label="Seed")
    assert field.preprocess(7) == 7
    for payload in ("abc", float("nan"), float("inf"), [1]):
        with pytest.raises(gr.Error, match="Seed must be a finite number") as err:
            field.preprocess(payload)
        assert err.value.print_exception is False


def test_a_huge_source_quotes_the_studios_limits(tmp_path):
    path = code_file(tmp_path, "huge.collage", source_size="8000,8000")
    code = callbacks.load_code(path)
    views = callbacks.render_views(code, None, 1.0)
    (note,) = views.notes
    assert "16 MP" in note and "4096 px" in note and "100 MP" not in note
    assert max(views.attractor.size) <= limits.MAX_DECODE_SIDE


def test_value_helpers():
    assert inputs.whole(3.0, "X", 0, 5) == 3 and inputs.whole("4", "X", 0, 5) == 4
    assert inputs.seed(None) == 0 and inputs.seed(limits.MAX_SEED) == limits.MAX_SEED
    for bad in (True, None, [], "1e400", float("-inf")):
        with pytest.raises(ValueError, match="X must be"):
            inputs.number(bad, "X", 0, 1)


# ------------------------------------------------------------------ 6. Cancel stops renders
@pytest.mark.parametrize("blend", [False, True])
def test_cancel_stops_a_render_at_the_next_level(monkeypatch, blend):
    code = small_code(blend=blend)
    # The blended base is a 4x4 fixed point read through two small steps, then its first level.
    first_level = 3 if blend else 1
    event, calls = threading.Event(), [0]
    real_step = cc.decode.collage_step

    def step(*args, **kwargs):
        calls[0] += 1
        event.set()  # the user presses Cancel during the first level
        return real_step(*args, **kwargs)

    monkeypatch.setattr(cc.decode, "collage_step", step)
    with pytest.raises(cc.Cancelled), cc.cancel_scope(event):
        code.render(64)  # 4096 px: several levels above the base
    assert calls[0] == first_level
    calls[0] = 0
    event.clear()
    with pytest.raises(cc.Cancelled), cc.cancel_scope(event):
        code.render(2, iterations=30)
    assert calls[0] == 1


def test_cancelled_work_is_calm_and_keeps_the_previous_result(monkeypatch, photo_path, caplog):
    session = Session()
    first = ui.fractalize(str(photo_path), grid=8, session=session)
    before = session.code
    real_fit = callbacks.fit

    def fit_then_cancel(*args, **kwargs):
        code = real_fit(*args, **kwargs)
        session.cancel.set()  # the user presses Cancel while it renders
        return code

    monkeypatch.setattr(callbacks, "fit", fit_then_cancel)
    with caplog.at_level(logging.INFO, logger="neural_collage.app"):
        result = ui.fractalize(str(photo_path), grid=16, magnify=4, session=session)
        zoomed = ui.zoom(str(photo_path), "(none)", "", 1, 1, 4, size="32×32", session=session)
    assert result == gr.skip() and zoomed == gr.skip()  # no error: the outputs keep their value
    assert session.code is before and Path(first[0]).is_file()
    assert [r.getMessage() for r in caplog.records] == ["fractalize: cancelled", "zoom: cancelled"]
    monkeypatch.setattr(callbacks, "fit", real_fit)
    assert ui.fractalize(str(photo_path), grid=8, session=session)[0]  # the next request runs


# ------------------------------------------------------------------ 7. stale temp folders
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_folders_of_dead_servers_are_swept(tmp_path):
    dead = tmp_path / f"{sweep.PREFIX}dead"
    dead.mkdir()
    (dead / sweep.OWNER_FILE).write_text(f"{_dead_pid()} 123\n")
    (dead / "session-x").mkdir()
    live = tmp_path / f"{sweep.PREFIX}live"
    live.mkdir()
    sweep.mark_owner(live)
    reused = tmp_path / f"{sweep.PREFIX}reused"  # our pid, another start time: a pid reused
    reused.mkdir()
    (reused / sweep.OWNER_FILE).write_text(f"{os.getppid()} 1\n")
    old = tmp_path / f"{sweep.PREFIX}old"
    old.mkdir()
    os.utime(old, (time.time() - 2 * limits.TEMP_MAX_AGE_S,) * 2)
    young = tmp_path / f"{sweep.PREFIX}young"
    young.mkdir()
    other = tmp_path / "someone-else"
    other.mkdir()
    os.utime(other, (0, 0))
    removed = set(sweep.sweep_stale(tmp_path))
    assert removed == {dead, reused, old}
    assert live.is_dir() and young.is_dir() and other.is_dir()


def test_the_server_sweeps_on_start(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"{sweep.PREFIX}killed"
    dead.mkdir()
    (dead / sweep.OWNER_FILE).write_text(f"{_dead_pid()}\n")
    ui.build_demo()
    assert not dead.exists()


# ------------------------------------------------------------------ 8. one log line per user error
def test_expected_errors_log_one_line_unexpected_ones_a_traceback(photo_path, caplog, monkeypatch):
    with caplog.at_level(logging.INFO, logger="neural_collage.app"), pytest.raises(gr.Error) as err:
        ui.fractalize(str(photo_path), grid=2.5, session=Session())
    assert err.value.print_exception is False
    (record,) = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage()
    caplog.clear()

    def broken(*_a, **_k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(callbacks, "fit", broken)
    with (
        caplog.at_level(logging.INFO, logger="neural_collage.app"),
        pytest.raises(gr.Error, match="Something went wrong"),
    ):
        ui.fractalize(str(photo_path), session=Session())
    (record,) = caplog.records
    assert record.exc_info is not None and record.levelno == logging.ERROR


def test_server_log_has_no_traceback_for_user_errors(tmp_path):
    script = f"""
        from gradio_client import Client, handle_file
        from studio_server import running_studio
        with running_studio() as (_, url):
            client = Client(url, verbose=False)
            for kwargs in ({{"grid": 2.5}}, {{"seed": 2**70}}, {{"magnify": 1e9}}):
                try:
                    client.predict(handle_file({str(REPO / "assets" / "photos" / "astronaut.jpg")!r}),
                                   api_name="/fractalize", **kwargs)
                except Exception as exc:
                    print("client saw:", str(exc).splitlines()[0])
    """
    env_dir = tmp_path / "g"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(
            os.environ,
            PYTHONPATH=str(REPO) + os.pathsep + str(REPO / "tests"),
            GRADIO_TEMP_DIR=str(env_dir),
            GRADIO_ANALYTICS_ENABLED="False",
        ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stdout.count("client saw:") == 3


# ------------------------------------------------------------------ 9. reproducible files
def test_saving_the_same_code_twice_gives_the_same_bytes(tmp_path):
    # The safetensors writer's hash-map order differs between processes: compare across two.
    script = """
        from hostile_inputs import small_code
        import sys
        code = small_code()
        code.meta.update({"b": 1, "a": [2, 3], "loop_cell": 5})
        print(code.to_bytes().hex())
    """
    outputs = {run_capped(script).stdout for _ in range(3)}
    assert len(outputs) == 1 and outputs != {""}
    code = small_code()
    a, b = code.save(tmp_path / "a.collage").read_bytes(), code.save(tmp_path / "b.collage").read_bytes()
    assert a == b == cc.FractalCode.from_bytes(a).to_bytes()
    (n,) = np.frombuffer(a[:8], "<u8")
    header = json.loads(a[8 : 8 + n])
    assert list(header) == sorted(header) and list(header["__metadata__"]) == sorted(header["__metadata__"])
    assert n % 8 == 0


def test_edited_files_still_load_and_metadata_must_be_strings(tmp_path):
    data = small_code().to_bytes()
    assert cc.FractalCode.from_bytes(edit_metadata(data)).grid == 8
    with pytest.raises(ValueError, match="metadata values must be strings"):
        cc.FractalCode.from_bytes(edit_metadata(data, grid=8))
