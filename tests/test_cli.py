"""The ``collage`` command: every subcommand, its outputs, error paths and exit codes."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import textured
from PIL import Image

import collage_core as cc
from app import callbacks
from app.cli import main


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``collage argv...`` run in-process."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors and --help
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    textured(120, 80).save(path)
    return path


# ------------------------------------------------------------------------- fractalize
def test_fractalize_writes_the_attractor_and_the_code(capsys, photo, tmp_path):
    out, code_path = tmp_path / "out.png", tmp_path / "out.collage"
    status, stdout, err = run(capsys, "fractalize", photo, "-o", out, "--grid", 8, "--code", code_path)
    assert status == 0, err
    result = Image.open(out)
    assert result.size == (120, 80) and result.mode == "RGB"
    original = Image.open(photo)
    value = callbacks.psnr(result, original)
    assert 15 < value < 45  # a collage of itself: recognisable, never identical
    match = re.search(r"PSNR (\d+\.\d+) dB", stdout)
    assert match and abs(float(match.group(1)) - value) < 0.01
    code = cc.FractalCode.load(code_path)
    assert code.grid == 8 and code.source_size == (120, 80)


@pytest.mark.parametrize(
    "flags,kind",
    [((), "blend"), (("--blend",), "blend"), (("--no-blend",), "grid"), (("--band", 0.25), "blend")],
)
def test_fractalize_cell_layout_flags(capsys, photo, tmp_path, flags, kind):
    code_path = tmp_path / "out.collage"
    status, stdout, err = run(
        capsys, "fractalize", photo, "-o", tmp_path / "o.png", "--grid", 8, *flags, "--code", code_path
    )
    assert status == 0, err
    code = cc.FractalCode.load(code_path)
    assert code.layout.kind == kind and f"grid 8 {kind}" in stdout
    if "--band" in flags:
        assert code.layout.band == 0.25


def test_fractalize_shared_weights_flag(capsys, photo, tmp_path):
    for flag, shared in (("--shared-weights", True), ("--no-shared-weights", False)):
        code_path = tmp_path / "w.collage"
        args = ("fractalize", photo, "-o", tmp_path / "w.png", "--grid", 8, flag, "--code", code_path)
        assert run(capsys, *args)[0] == 0
        a = cc.FractalCode.load(code_path).a
        assert (torch.equal(a[0], a[1]) and torch.equal(a[1], a[2])) == shared


def test_fractalize_a_saved_code_at_any_magnification(capsys, photo, tmp_path):
    code_path = tmp_path / "c.collage"
    assert run(capsys, "fractalize", photo, "-o", tmp_path / "a.png", "--grid", 8, "--code", code_path)[0] == 0
    status, stdout, err = run(
        capsys, "fractalize", code_path, "-o", tmp_path / "big.png", "--magnify", 2.5, "--grid", 4
    )
    assert status == 0 and "wrote" in stdout
    assert "note: --grid ignored: c.collage is already a fitted code" in err
    big = Image.open(tmp_path / "big.png")
    assert big.size == (300, 200)
    small = np.asarray(Image.open(tmp_path / "a.png"), dtype=np.float64)
    pooled = np.asarray(big.resize((120, 80), Image.Resampling.BOX), dtype=np.float64)
    assert np.abs(pooled - small).mean() < 2  # the same attractor, rendered larger


def test_fractalize_with_preset_iterations_and_start(capsys, photo, tmp_path):
    exact, gray1 = tmp_path / "exact.png", tmp_path / "gray1.png"
    assert run(capsys, "fractalize", photo, "-o", exact, "--preset", "snowflake")[0] == 0
    status, stdout, _ = run(
        capsys, "fractalize", photo, "-o", gray1, "--preset", "snowflake", "--iterations", 1, "--start", "gray"
    )
    assert status == 0
    a, b = (np.asarray(Image.open(p), dtype=np.float64) for p in (exact, gray1))
    assert a.shape == (160, 240, 3)  # snowflake renders at 2x
    assert np.abs(a - b).mean() > 2  # one step from gray is not the attractor yet
    other = tmp_path / "start.png"
    textured(50, 50, seed=7).save(other)
    status, _, _ = run(capsys, "fractalize", photo, "-o", tmp_path / "morph.png", "--iterations", 1, "--start", other)
    assert status == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["missing.jpg"], "error: no such file: .*missing.jpg"),
        (["{text}"], "error: Cannot use this photo: notes.png is not an image Pillow can read"),
        (["{tiny}"], "both sides must be at least 8 px"),
        (["{photo}", "--strength", "2"], "error: strength must lie in"),
        (["{photo}", "--preset", "nope"], "error: unknown preset 'nope'; available: deep-zoom"),
        (["{photo}", "--start", "gray"], "--start only matters with --iterations"),
        (["{photo}", "--code", "out.bin"], "a code file must end in .collage"),
        (["{photo}", "--magnify", "100000"], "more than 100 MP"),
    ],
)
def test_fractalize_bad_input_exits_1_with_one_line(capsys, tmp_path, photo, bad_uploads, args, message):
    names = {"text": bad_uploads["text"], "tiny": bad_uploads["tiny"], "photo": photo}
    argv = [a.format(**names) for a in args]
    status, _, err = run(capsys, "fractalize", *argv, "-o", tmp_path / "out.png")
    assert status == 1
    assert re.search(message, one_error_line(err))
    assert not (tmp_path / "out.png").exists()


def test_fractalize_refuses_an_unknown_output_format(capsys, photo, tmp_path):
    status, _, err = run(capsys, "fractalize", photo, "-o", tmp_path / "out.gif")
    assert status == 1 and "the output must end in .png" in one_error_line(err)


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["fractalize"], "the following arguments are required: IN, -o/--output"),
        (["fractalize", "x.png", "-o", "y.png", "--grid", "abc"], "argument --grid: invalid int value: 'abc'"),
        (["fractalize", "x.png", "-o", "y.png", "--symmetries", "d8"], "argument --symmetries: invalid choice"),
        (["fractalize", "x.png", "-o", "y.png", "--magnify", "-2"], "argument --magnify: must be positive"),
        (["zoom", "x.png", "-o", "y.gif", "--size", "big"], "argument --size: Size must look like 512x512"),
        (["zoom", "x.png", "-o", "y.gif", "--center", "2,2"], "argument --center: Target coordinates must lie in 0..1"),
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in one_error_line(err)


# ------------------------------------------------------------------------------- zoom
def test_zoom_writes_an_animated_gif(capsys, photo, tmp_path):
    out = tmp_path / "zoom.gif"
    status, stdout, err = run(
        capsys,
        "zoom",
        photo,
        "-o",
        out,
        "--zoom",
        50,
        "--seconds",
        1,
        "--fps",
        3,
        "--size",
        "48x32",
        "--center",
        "0.5,0.5",
    )
    assert status == 0, err
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.size == (48, 32)
        first = np.asarray(gif.convert("RGB"), dtype=np.float64)
        gif.seek(2)
        last = np.asarray(gif.convert("RGB"), dtype=np.float64)
    assert np.abs(first - last).mean() > 2  # it moved
    assert "3 frames" in stdout and "48x32" in stdout


@pytest.mark.parametrize(
    "flags,kind,planted",
    [
        ((), "blend", False),  # the deep-zoom look: blended cells
        (("--no-blend",), "grid", False),
        (("--blend", "--band", 0.125), "blend", False),
        (("--loop",), "blend", False),  # a blended loop cross-fades: no planted cell
        (("--loop", "--no-blend"), "grid", True),  # a hard loop plants its cell: exact
        (("--preset", "mosaic", "--loop"), "grid", True),
    ],
)
def test_zoom_cell_layout_flags(capsys, photo, tmp_path, flags, kind, planted, monkeypatch):
    seen = []

    def export(code, *args, **kwargs):  # the layout is all this test needs: skip the frames
        seen.append(code)
        Image.new("RGB", (4, 4)).save(tmp_path / "z.gif")

    monkeypatch.setattr(cc, "export_zoom", export)
    status, _, err = run(capsys, "zoom", photo, "-o", tmp_path / "z.gif", "--seconds", 1, "--fps", 2, *flags)
    assert status == 0, err
    layout = seen[0].layout
    assert layout.kind == kind and ("--band" not in flags or layout.band == 0.125)
    assert ("loop_cell" in seen[0].meta) == planted


def test_zoom_errors(capsys, photo, tmp_path):
    status, _, err = run(capsys, "zoom", photo, "-o", tmp_path / "z.avi")
    assert status == 1 and "must end in .apng or .gif or .mp4 or .png or .webp" in one_error_line(err)
    status, _, err = run(capsys, "zoom", photo, "-o", tmp_path / "z.gif", "--loop", "--pingpong", "--seconds", 1)
    assert status == 1 and "exclusive" in one_error_line(err)
    assert not list(tmp_path.glob("*.gif"))


# ----------------------------------------------------------------------------- sample
def test_sample_writes_a_sheet_of_digits(capsys, tmp_path):
    out = tmp_path / "digits.png"
    status, stdout, err = run(capsys, "sample", "-o", out, "--n", 4, "--magnify", 2, "--seed", 3)
    assert status == 0, err
    sheet = Image.open(out)
    assert sheet.size == (112, 112) and sheet.mode == "L"
    arr = np.asarray(sheet)
    assert arr.std() > 20  # digits on a background, not a flat image


def test_sample_writes_one_digit_of_the_sheet_beyond_40x(capsys, tmp_path):
    sheet, one = tmp_path / "sheet.png", tmp_path / "one.png"
    assert run(capsys, "sample", "-o", sheet, "--n", 4, "--magnify", 2, "--seed", 3)[0] == 0
    status, stdout, err = run(capsys, "sample", "-o", one, "--n", 4, "--digit", 3, "--magnify", 64, "--seed", 3)
    assert status == 0 and "digit 3 of 4 at 1792x1792" in stdout, err
    near = np.asarray(Image.open(one), dtype=np.float64) / 255
    assert near.shape == (1792, 1792)
    # Pooled to 28x28 it is digit #3 of the sheet (2 x 2 tiles of 56 px), not another one.
    tiles = np.asarray(Image.open(sheet), dtype=np.float64) / 255
    pooled = near.reshape(28, 64, 28, 64).mean((1, 3))
    gaps = [
        np.abs(pooled - tiles[56 * (i // 2) :, 56 * (i % 2) :][:56, :56].reshape(28, 2, 28, 2).mean((1, 3))).mean()
        for i in range(4)
    ]
    assert gaps[2] < 0.02 and min(gaps[:2] + gaps[3:]) > 0.05, gaps


def test_sample_inks_dark_on_white_and_samples_the_baseline(capsys, tmp_path):
    """--ink dark is the light sheet inverted; --model baseline is another model's digits."""
    sheets = {}
    for name, extra in (("light", ()), ("dark", ("--ink", "dark")), ("baseline", ("--model", "baseline"))):
        out = tmp_path / f"{name}.png"
        status, stdout, err = run(capsys, "sample", "-o", out, "--n", 3, "--cols", 3, "--seed", 3, *extra)
        assert status == 0 and "grid 3x1" in stdout, err
        sheets[name] = np.asarray(Image.open(out), dtype=np.int16)
    assert sheets["light"].shape == (112, 336)
    assert np.array_equal(sheets["dark"], 255 - sheets["light"])
    assert sheets["light"].mean() < 128 < sheets["dark"].mean()  # ink covers less than the background
    assert np.abs(sheets["baseline"] - sheets["light"]).mean() > 10


@pytest.mark.parametrize(
    "args,message",
    [
        (("--magnify", 65), "--magnify must be at most 64"),
        (("--n", 4, "--digit", 5), "--digit 5 is not among the 4 samples: pick one from 1 to 4"),
        (("--n", 300), "--n must be at most 256"),
        (("--checkpoint", "no-such-run.safetensors"), "checkpoint not found: no-such-run.safetensors"),
    ],
)
def test_sample_rejects_out_of_range_values(capsys, tmp_path, args, message):
    status, _, err = run(capsys, "sample", "-o", tmp_path / "d.png", *args)
    assert status == 1 and message in one_error_line(err)
    assert not (tmp_path / "d.png").exists()


# ---------------------------------------------------------------------- presets, serve
def test_presets_lists_the_named_looks(capsys):
    status, stdout, _ = run(capsys, "presets")
    assert status == 0
    names = [line.split()[0] for line in stdout.splitlines() if line and not line.startswith("your")]
    assert {"snowflake", "subtle", "kaleidoscope", "deep-zoom"} <= set(names) and len(names) >= 6
    assert "NEURAL_COLLAGE_PRESETS" in stdout


def test_serve_help(capsys):
    status, stdout, _ = run(capsys, "serve", "--help")
    assert status == 0 and "--host" in stdout and "--port" in stdout and "--device" in stdout


def test_vae_commands_are_registered(capsys):
    status, stdout, _ = run(capsys, "--help")
    assert status == 0
    assert "train-vae" in stdout and "eval-vae" in stdout


def test_console_script_end_to_end(tmp_path, photo):
    """The installed entry point: exit codes and a traceback-free stderr from a real process."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
    ok = subprocess.run(
        [*cmd, "fractalize", str(photo), "-o", str(tmp_path / "o.png"), "--grid", "8"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("wrote ") and (tmp_path / "o.png").exists()
    bad = subprocess.run(
        [*cmd, "fractalize", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: ")
