"""The ``collage`` command: the studio's features from a terminal.

    collage fractalize IN -o OUT.png [--grid N] [--symmetries none|rot|d4] [--strength S]
                      [--copies 1|2|3|soft] [--blend | --no-blend] [--band B] [--shared-weights]
                      [--adaptive [--max-cells N]]
                      [--refine N] [--iterations N] [--start noise|gray|IMAGE] [--magnify M]
                      [--preset NAME] [--code OUT.collage] [--style IMAGE] [--seed S]
                      [--colour true|vivid|off|ice|ember|ink|gold|neon[:MIX]]
    collage zoom IN -o OUT.(gif|mp4|webp|png) [--zoom Z] [--seconds S] [--fps F] [--size WxH]
                 [--center X,Y] [--loop] [--pingpong] [--easing E] [--colour true|vivid|off|PALETTE[:MIX]]
                 [--blend | --no-blend] [--band B]
                 [--preset NAME]
    collage poster IN -o OUT.png [--size WxH] [--center X,Y] [--zoom Z] [--view VIEW.json]
    collage zoom IN -o OUT.gif --keyframes FILE.(json|toml)   (a dive through recorded views)
    collage sample -o OUT.png [--n N] [--magnify M] [--digit K] [--temperature T] [--seed S]
                   [--model collage|baseline] [--checkpoint FILE] [--cols C] [--ink light|dark]
    collage presets
    collage serve [--host H] [--port P] [--device D]      (= python -m app)

Bad input exits with status 1 and usage errors with status 2, each after one line
``error: ...`` on stderr. Torch uses ``$NEURAL_COLLAGE_THREADS`` CPU threads (default 1).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from pathlib import Path

from . import __main__ as launcher
from . import inputs
from .cli_explore import add_explore_commands
from .cli_vae import add_vae_commands

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``error: ...`` line (and exit status 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _typed(parse, name: str):
    """An argparse type from one of the studio's parsers (``app.inputs``): one rule for both."""

    def typed(text: str):
        try:
            value = parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if value is None:
            raise argparse.ArgumentTypeError(f"expected X,Y in 0..1 such as 0.5,0.5, got {text!r}")
        return value

    typed.__name__ = name  # argparse names the type in its messages
    return typed


# The engine's settings check the upper bound (with the limit in the message).
_size = _typed(functools.partial(inputs.size, low=16, high=1 << 20), "size")
_center = _typed(inputs.point, "point")


def add_colour(parser: argparse.ArgumentParser, tones: str) -> None:
    """The ``--colour`` flag: a tone look or a palette (``ice``, ``ice:0.7``), checked by the engine's rule."""
    from collage_core.palette import PALETTES, studio_colour

    parser.add_argument(
        "--colour",
        "--color",
        dest="colour",
        type=_typed(studio_colour, "colour"),
        default=None,
        metavar="true|vivid|off|PALETTE[:MIX]",
        help=f"{tones}; or a palette painting the picture's levels: {', '.join(PALETTES)} "
        "(':MIX' in 0..1 blends it with the true colours, e.g. ice:0.7)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="collage", description="Neural Collage Studio: fractalize photos, zoom forever, sample digits."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    f = sub.add_parser("fractalize", help="turn a photo (or a saved code) into its collage attractor")
    f.add_argument("input", metavar="IN", help="an image, or a .collage code saved earlier")
    f.add_argument("-o", "--output", required=True, metavar="OUT.png", help="where to write the render")
    f.add_argument("--preset", help="a preset name (see 'collage presets') or a .toml file")
    f.add_argument("--grid", type=int, help="cells a side (default 32)")
    f.add_argument("--symmetries", choices=["none", "rot", "d4"], help="copies under rotations/flips (default d4)")
    f.add_argument("--strength", type=float, help="self-similarity floor, 0..0.9 (default 0.2)")
    f.add_argument("--copies", metavar="1|2|3|soft", help=COPIES_HELP)
    f.add_argument(
        "--blend",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=BLEND_HELP,
    )
    f.add_argument("--band", type=float, help=BAND_HELP)
    f.add_argument(
        "--shared-weights",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one weight per copy for every channel: copies keep the photo's colours at any depth",
    )
    f.add_argument(
        "--adaptive",
        action="store_true",
        default=None,
        help="adaptive (quadtree) cells: start from --grid (a power of two) and split where the photo has detail;"
        " blended like the grid (no seams) unless --no-blend",
    )
    f.add_argument(
        "--max-cells", type=_positive(int), help="with --adaptive: at most this many cells (default 4 x grid^2)"
    )
    f.add_argument("--refine", type=_non_negative_int, help="refinement steps after the closed-form fit (default 0)")
    f.add_argument("--style", metavar="IMAGE", help="a style source image whose copies also build the picture")
    f.add_argument("--iterations", type=_non_negative_int, help="collage steps from --start (default: exact attractor)")
    f.add_argument("--start", default=None, metavar="noise|gray|IMAGE", help="start image for --iterations")
    f.add_argument("--magnify", type=_positive(float), help="output scale (default 1)")
    f.add_argument("--seed", type=int, default=0, help="seed of the noise start (with --iterations)")
    add_colour(f, "true (default: the collage's own colours), vivid (each channel stretched)")
    f.add_argument("--code", metavar="OUT.collage", help="also save the fractal code")
    f.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, mps")
    f.set_defaults(func=cmd_fractalize)

    z = sub.add_parser("zoom", help="export an infinite-zoom animation (.gif, .mp4, .webp or .png frames)")
    z.add_argument("input", metavar="IN", help="an image or a .collage code")
    z.add_argument("-o", "--output", required=True, metavar="OUT.gif|mp4|webp|png")
    z.add_argument(
        "--preset", help="a look: fits an image with it and uses its zoom settings (default: deep-zoom's fit)"
    )
    z.add_argument("--zoom", type=_positive(float), help="final magnification (default 1000)")
    z.add_argument("--seconds", type=_positive(float), help="duration (default 10)")
    z.add_argument("--fps", type=_positive(int), help="frames per second (default 24)")
    z.add_argument("--size", type=_size, help="frame size WxH (default 512x512)")
    z.add_argument("--center", type=_center, metavar="X,Y", help="target in 0..1 (default: the auto loop point)")
    z.add_argument("--loop", action="store_true", default=None, help="seamless loop (plants a loop cell)")
    z.add_argument("--pingpong", action="store_true", default=None, help="zoom in, then back out")
    z.add_argument("--easing", choices=["ease-in-out", "linear", "ease-in", "ease-out", "sine"], default=None)
    add_colour(z, "tone of deep frames: true (default: levels on luma, the photo's colours), vivid (per channel), off")
    z.add_argument("--copies", metavar="1|2|3|soft", help=COPIES_HELP + "; overrides the look's")
    z.add_argument("--blend", action=argparse.BooleanOptionalAction, default=None, help=BLEND_HELP)
    z.add_argument("--band", type=float, help=BAND_HELP)
    z.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, mps")
    z.add_argument("--keyframes", metavar="FILE", help="dive through these views (JSON or TOML, from the Explore tab)")
    z.set_defaults(func=cmd_zoom)

    p = sub.add_parser("presets", help="list the presets (built-in and your own)")
    p.set_defaults(func=cmd_presets)

    v = sub.add_parser("serve", help="launch the studio in the browser (same as python -m app)")
    launcher.add_serve_arguments(v)
    v.set_defaults(func=cmd_serve)

    add_vae_commands(sub)
    add_explore_commands(sub)
    return parser


BLEND_HELP = (
    "blended, seamless cells (default for even grids >= 4: no grid at 1x or at depth, one sharp copy per cell)"
    " or --no-blend for hard square cells"
)
BAND_HELP = "blend band half-width in cells where cells are large (deep views), 1/64..1/2 (default 1/16)"
COPIES_HELP = "domains per cell: 1 (default) keeps the photo sharp inside itself, soft mixes all"


# ---------------------------------------------------------------------------- helpers
def _is_code_file(path: Path) -> bool:
    if path.suffix.lower() == ".collage":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b"neural-collage-code" in head


def _load_input(path_text: str, config, args):
    """``(code, original image or None, name)`` from an image or a code file."""
    import collage_core as cc

    from . import callbacks

    path = Path(path_text)
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    if _is_code_file(path):
        fit_flags = ("grid", "symmetries", "strength", "copies", "refine", "style", "preset", "blend", "band")
        fit_flags += ("adaptive", "max_cells", "shared_weights")
        ignored = [f"--{name}" for name in fit_flags if getattr(args, name, None) not in (None, False)]
        if ignored and getattr(args, "func", None) is cmd_fractalize:
            print(f"note: {', '.join(ignored)} ignored: {path.name} is already a fitted code", file=sys.stderr)
        return callbacks.load_code(path), None, path.stem
    photo = callbacks.load_photo(str(path), max_pixels=cc.image_io.MAX_INPUT_PIXELS, max_side=None)
    for note in photo.notes:
        print(f"note: {note}", file=sys.stderr)
    progress = _tqdm_progress("refining", config.refine_steps) if config.refine_steps else None
    try:
        code = callbacks.fit(photo, config, style=getattr(args, "style", None), device=args.device, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    return code, photo.image, path.stem


class _tqdm_progress:  # noqa: N801 - used like a function
    """A ``progress(fraction, desc)`` callback drawing a tqdm bar on stderr (hidden when not a TTY)."""

    def __init__(self, desc: str, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="step", disable=None, leave=False, file=sys.stderr)
        self.total = total

    def __call__(self, fraction: float, desc: str = "") -> None:
        self.bar.n = round(fraction * self.total)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _check_output(path_text: str, suffixes: tuple[str, ...]) -> Path:
    path = Path(path_text)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path.name}: the output must end in {' or '.join(suffixes)}")
    if not path.parent.exists():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path


def _image_suffixes() -> tuple[str, ...]:
    return (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


# --------------------------------------------------------------------------- commands
def cmd_fractalize(args: argparse.Namespace) -> int:
    from collage_core.presets import load_preset

    from . import callbacks

    out = _check_output(args.output, _image_suffixes())
    if args.code and Path(args.code).suffix.lower() != ".collage":
        raise ValueError(f"{args.code}: a code file must end in .collage")
    preset = load_preset(args.preset) if args.preset else None
    config = callbacks.resolve_config(
        args.preset,
        grid=args.grid,
        symmetries=args.symmetries,
        strength=args.strength,
        copies=args.copies,
        refine_steps=args.refine,
        blend=args.blend,
        band=args.band,
        shared_weights=args.shared_weights,
        adaptive=args.adaptive,
        max_cells=args.max_cells,
    )
    render = preset.render if preset else {}
    magnify = args.magnify if args.magnify is not None else render.get("magnify", 1)
    iterations = args.iterations if args.iterations is not None else render.get("iterations")
    start = args.start or render.get("start", "noise")
    if args.start and iterations is None:
        raise ValueError("--start only matters with --iterations N (the exact attractor does not depend on it)")
    start = callbacks.start_image(start)  # "noise", "gray" or the image at that path
    code, original, _ = _load_input(args.input, config, args)
    # The CLI allows what the engine allows; the studio's tighter per-request limit is for servers.
    m = callbacks.effective_magnify(code.source_size, magnify, max_pixels=100_000_000)
    if m < magnify:
        raise ValueError(f"--magnify {magnify:g} gives more than 100 MP; at most {m:g} for this image")
    colour = args.colour or render.get("colour", "true")
    image = code.render(m, colour=colour, iterations=iterations, start=start, seed=args.seed, device=args.device)
    if out.suffix.lower() in (".jpg", ".jpeg", ".bmp") and image.mode in ("RGBA", "LA"):
        image = image.convert(image.mode[:-1])  # formats without alpha
    image.save(out)
    summary = f"wrote {out} ({image.width}x{image.height})"
    if original is not None:
        untouched = m == 1 and colour in ("true", "off")  # a palette's picture is not the photo's
        at_one = image if untouched else code.render(1, iterations=iterations, start=start, seed=args.seed)
        summary += f", PSNR {callbacks.psnr(at_one, original):.2f} dB at 1x"
    if args.code:
        code.save(args.code)
        summary += (
            f"; code {args.code} ({code.nbytes / 1024:.1f} KB, grid {code.grid} {code.layout.kind}, {code.symmetries})"
        )
    print(summary)
    return 0


def cmd_zoom(args: argparse.Namespace) -> int:
    from collage_core.presets import load_preset
    from collage_core.zoom import ZoomSettings, load_keyframes, writers

    from . import callbacks

    out = _check_output(args.output, tuple(writers.suffixes()))
    settings = ZoomSettings()
    if args.preset:  # a named look brings its zoom settings; flags still win
        settings = ZoomSettings.from_preset(load_preset(args.preset).zoom)
    settings = settings.override(
        zoom=args.zoom,
        seconds=args.seconds,
        fps=args.fps,
        size=args.size,
        center=args.center,
        loop=args.loop,
        pingpong=args.pingpong,
        easing=args.easing,
        autocontrast=args.colour,
        keyframes=load_keyframes(args.keyframes) if args.keyframes else None,
    )
    writers.writer_for(out).check_fps(settings.fps)  # before the fit, which takes a while
    # --blend asks for blended cells even where a look plants a loop cell (which needs hard ones).
    extra = {"plant_loop": False} if args.blend else {}
    config = callbacks.resolve_config(
        args.preset or "deep-zoom", copies=args.copies, blend=args.blend, band=args.band, **extra
    )
    if settings.loop:
        config = callbacks.loop_config(config)
    code, _, _ = _load_input(args.input, config, args)
    bar = _tqdm_progress("zoom", settings.frames)
    try:
        _run_export(code, out, settings, bar, args.device)
    finally:
        bar.close()
    size = writers.writer_for(out).frame_size(settings.size)
    print(
        f"wrote {out} ({settings.frames} frames, {size[0]}x{size[1]}, "
        + (f"{len(keys)} keyframes" if (keys := settings.keyframes) else f"zoom {settings.zoom:g}")
        + f", {out.stat().st_size / 1024:.0f} KB)"
    )
    return 0


def _run_export(code, out: Path, settings, bar, device=None) -> None:
    import collage_core as cc

    def report(done, total=None, *_):
        bar(done / total if total else float(done))

    cc.export_zoom(code, out, settings, progress=report, device=device)


def cmd_presets(args: argparse.Namespace) -> int:
    from collage_core.presets import list_presets, user_dir

    presets = list_presets()
    width = max(len(p.name) for p in presets) if presets else 0
    for p in presets:
        origin = "" if p.path is None or p.path.parent.resolve() != user_dir().resolve() else "  (yours)"
        print(f"{p.name:<{width}}  {p.description}{origin}")
    print(f"\nyour presets folder: {user_dir()}  (NEURAL_COLLAGE_PRESETS overrides it)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    return launcher.serve(args)


# ------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``collage`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func in (cmd_fractalize, cmd_zoom) or args.command in ("poster", "sample"):
        _set_threads()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as exc:
        if os.environ.get("COLLAGE_DEBUG"):
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get("COLLAGE_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (set COLLAGE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _set_threads() -> None:
    """Torch CPU threads: ``$NEURAL_COLLAGE_THREADS`` or 1.

    On a CPU other work keeps busy, OpenMP's spinning threads made a 48-frame zoom take
    293 s with 2 threads against about 10 s with 1 (measured on 2 cores); set 2 or more
    on an idle machine for a modest gain on large renders.
    """
    import torch

    from .__main__ import DEFAULT_THREADS

    try:
        threads = int(os.environ.get("NEURAL_COLLAGE_THREADS", DEFAULT_THREADS))
    except ValueError:
        raise ValueError("NEURAL_COLLAGE_THREADS must be an integer") from None
    torch.set_num_threads(max(1, threads))


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
