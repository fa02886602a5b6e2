"""End to end through a real server: gradio_client against the studio on a free port."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, panel_controls, textured
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from studio_server import free_port, running_studio

import collage_core as cc
from app import callbacks, limits


@pytest.fixture(scope="module")
def studio():
    with running_studio() as (demo, url):
        yield demo, url


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio[1], verbose=False)


def fractalize(client, path, **kwargs):
    return client.predict(handle_file(str(path)), api_name="/fractalize", **kwargs)


def test_named_endpoints_image_in_image_out(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/fractalize", "/zoom", "/sample"} <= set(api)
    first_in = api["/fractalize"]["parameters"][0]
    first_out = api["/fractalize"]["returns"][0]
    assert first_in["component"] == "Image" and first_out["component"] == "Image"


def test_fractalize_round_trip(client, example_photo):
    attractor, readout, code_path = fractalize(client, example_photo)
    out = Image.open(attractor)
    photo = Image.open(example_photo).convert("RGB")
    assert out.size == photo.size == (512, 512) and out.format == "PNG"
    value = callbacks.psnr(out, photo)
    assert 15 < value < 35  # recognisable, yet made of copies of itself
    assert f"{value:.2f} dB" in readout and "KB" in readout
    code = cc.FractalCode.load(code_path)
    assert code.grid == 32 and code.source_size == (512, 512)
    assert callbacks.psnr(code.render(1), out) > 45  # the download renders to the same picture


def test_fractalize_magnified_with_settings(client, example_photo):
    result = fractalize(client, example_photo, grid=16, symmetries="rot", strength=0.5, magnify=2)
    assert Image.open(result[0]).size == (1024, 1024)
    assert "16×16, rot" in result[1] and "×2" in result[1]


def test_the_page_button_fills_every_panel(client, example_photo):
    # An undocumented endpoint takes positional arguments only: the controls in page order.
    controls = panel_controls(strength=0.0, cells="hard", magnify=2)
    attractor, original, bicubic, readout, png, code_path, zoom_source = client.predict(
        handle_file(str(example_photo)), *controls, api_name="/fractalize_panels"
    )
    assert Image.open(attractor).size == Image.open(bicubic).size == (1024, 1024)
    assert Image.open(original).size == (512, 512) and png == attractor
    assert Image.open(zoom_source).size == (512, 512)  # the Zoom tab gets the 1x attractor
    big = np.asarray(Image.open(attractor).convert("RGB"), dtype=np.float64)
    bic = np.asarray(Image.open(bicubic).convert("RGB"), dtype=np.float64)
    assert np.abs(big - bic).mean() > 3  # the collage is not an upscaled photo


@pytest.mark.parametrize(
    "kind,message",
    [
        ("text", "Cannot use notes.png: it is not an image this studio can read"),
        ("truncated", "truncated or corrupt"),
        ("tiny", "both sides must be at least 8 px"),
    ],
)
def test_bad_uploads_get_clear_messages(client, bad_uploads, kind, message):
    with pytest.raises(AppError, match=message):
        fractalize(client, bad_uploads[kind])


@pytest.mark.parametrize("kind,size", [("animated", (64, 64)), ("cmyk", (80, 60)), ("16bit", (64, 48))])
def test_convertible_uploads_are_fractalized(client, bad_uploads, kind, size):
    result = fractalize(client, bad_uploads[kind], grid=8)
    assert Image.open(result[0]).size == size


def test_server_keeps_serving_after_bad_uploads(client, bad_uploads, photo_path):
    for kind in ("text", "truncated", "tiny"):
        with pytest.raises(AppError):
            fractalize(client, bad_uploads[kind])
    assert Image.open(fractalize(client, photo_path, grid=8)[0]).size == (96, 96)


def test_a_19_megapixel_photo_is_downscaled(client, tmp_path):
    path = tmp_path / "phone.jpg"
    textured(160, 107).resize((5344, 3563), Image.Resampling.BILINEAR).save(path, quality=60)
    out = Image.open(fractalize(client, path, grid=16)[0])
    w, h = out.size
    assert w * h <= limits.MAX_INPUT_PIXELS and abs(w / h - 5344 / 3563) < 0.01


def test_two_users_at_once_get_their_own_results(studio, tmp_path):
    url = studio[1]
    photos = []
    for seed in (1, 2):
        path = tmp_path / f"user{seed}.png"
        textured(128, 128, seed=seed * 10).save(path)
        photos.append(path)
    clients = [Client(url, verbose=False) for _ in photos]
    jobs = [
        c.submit(handle_file(str(p)), api_name="/fractalize", grid=16) for c, p in zip(clients, photos, strict=True)
    ]
    results = [Image.open(job.result(timeout=60)[0]) for job in jobs]
    own = [callbacks.psnr(results[i], Image.open(photos[i])) for i in range(2)]
    other = [callbacks.psnr(results[i], Image.open(photos[1 - i])) for i in range(2)]
    assert all(o > x + 5 for o, x in zip(own, other, strict=True)), (own, other)
    # Each session keeps its own collage: "watch it converge" animates the session's own code.
    for i, c in enumerate(clients):
        _, _, gif, info = c.predict(steps=3, fps=5, api_name="/converge")
        with Image.open(gif) as anim:
            anim.seek(anim.n_frames - 1)
            last = anim.convert("RGB")
        assert callbacks.psnr(last, Image.open(photos[i])) > callbacks.psnr(last, Image.open(photos[1 - i])) + 2


def test_converge_as_mp4(client, photo_path):
    fractalize(client, photo_path, grid=8)
    anim, video, download, info = client.predict(steps=4, fps=5, fmt="MP4", api_name="/converge")
    assert download.endswith(".mp4") and b"ftyp" in Path(download).read_bytes()[:12]
    assert video is not None and "Max difference to the attractor" in info


def test_converge_needs_a_collage_first(studio):
    fresh = Client(studio[1], verbose=False)
    with pytest.raises(AppError, match="Fractalize a photo"):
        fresh.predict(steps=3, fps=5, api_name="/converge")


def test_load_code_file_back(client, tmp_path, photo_path):
    code = cc.fractalize(Image.open(photo_path), grid=8)
    path = code.save(tmp_path / "mine.collage")
    attractor, original, bicubic, readout, png, zoom_source = client.predict(
        handle_file(str(path)), api_name="/load_code"
    )
    assert original is None and "n/a" in readout
    assert callbacks.psnr(Image.open(attractor), code.render(1)) > 45


def test_zoom_endpoint_returns_an_animation(client, photo_path):
    anim, video, download = client.predict(
        handle_file(str(photo_path)),
        preset="deep-zoom",
        target="0.3, 0.6",
        depth=1,
        seconds=1,
        fps=3,
        size="128×128",
        api_name="/zoom",
    )
    assert video is None or video.get("value") is None  # the MP4 player stays hidden for a GIF
    with Image.open(download) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (128, 128)


@pytest.mark.parametrize("fmt", ["MP4", "WebP"])
def test_zoom_as_video_formats(client, photo_path, fmt):
    anim, video, download = client.predict(
        handle_file(str(photo_path)), depth=1, seconds=1, fps=4, fmt=fmt, size="128×128", api_name="/zoom"
    )
    data = Path(download).read_bytes()[:64]
    if fmt == "MP4":
        assert b"ftyp" in data[:12] and video is not None  # plays in the page's video player
    else:
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        with Image.open(download) as webp:
            assert webp.n_frames == 4 and webp.size == (128, 128)


def test_zoom_limits_are_enforced(client, photo_path):
    with pytest.raises(AppError, match="frames; the limit is"):
        client.predict(handle_file(str(photo_path)), seconds=30, fps=50, api_name="/zoom")


def test_sample_endpoint(client):
    # The weights ship with the package (tests/test_install.py checks a wheel carries them): no skip.
    sheet, closeup, bicubic, summary = client.predict(seed=1, count=4, api_name="/sample")
    assert Image.open(sheet).size == (2 * 112, 2 * 112)  # four 28x28 digits at 4x, two by two
    a, b = (np.asarray(Image.open(p).convert("L"), dtype=np.float64) for p in (closeup, bicubic))
    assert a.shape == b.shape == (1120, 1120)  # digit #1 at 40x unless asked otherwise
    assert np.abs(a - b).mean() > 1  # the Collage adds detail bicubic cannot


def test_the_close_up_is_the_sheets_digit_at_any_magnification(client):
    # The shipped model: digit #3 at 64x, pooled back to 28x28, is digit #3 of the 4x sheet pooled.
    sheet, closeup, _, summary = client.predict(seed=5, count=4, magnify=64, digit=3, api_name="/sample")
    near = np.asarray(Image.open(closeup).convert("L"), dtype=np.float64) / 255
    assert near.shape == (1792, 1792) and "Digit #3 at ×64" in summary
    tiles = np.asarray(Image.open(sheet).convert("L"), dtype=np.float64) / 255  # 2 x 2 tiles of 112 px
    pooled = near.reshape(28, 64, 28, 64).mean((1, 3))
    for i in range(4):
        tile = tiles[112 * (i // 2) : 112 * (i // 2 + 1), 112 * (i % 2) : 112 * (i % 2 + 1)].reshape(28, 4, 28, 4)
        gap = np.abs(pooled - tile.mean((1, 3))).mean()
        assert gap < 0.02 if i == 2 else gap > 0.05, (i, gap)


def test_queue_and_cleanup_settings(studio):
    demo = studio[0]
    assert demo._queue.max_size == limits.QUEUE_MAX_SIZE
    assert demo._queue.default_concurrency_limit == limits.CONCURRENCY_LIMIT
    assert demo.delete_cache == (1800, limits.TEMP_MAX_AGE_S)


def test_page_is_served(studio):
    html = urllib.request.urlopen(studio[1], timeout=10).read().decode()
    assert "Neural Collage Studio" in html


def test_python_m_app_serves_the_page_without_analytics():
    # conftest.py sets GRADIO_ANALYTICS_ENABLED for the in-process studios; a real launch
    # without it must turn analytics off by itself. How fast the page comes: benchmarks/app_latency.py.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    env.update(GRADIO_SERVER_PORT=str(port), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--no-browser"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answered = False
        while not answered and time.perf_counter() - t0 < 120:  # a hang guard, not a speed budget
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    answered = r.status == 200
            except OSError:
                time.sleep(0.05)
        assert answered, "the studio never answered"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as r:
            config = json.loads(r.read())
        assert config["analytics_enabled"] is False
        lines = []

        def read() -> None:  # the sweep of stale folders may log a line before the address
            for _ in range(5):
                lines.append(proc.stdout.readline())
                if f"http://localhost:{port}/" in lines[-1]:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(5)
        assert any(f"http://localhost:{port}/" in line for line in lines), lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)
