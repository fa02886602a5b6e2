"""The ``poster`` subcommand: one view of a collage as a PNG of up to 16384^2 (argparse lives here).

    collage poster IN -o OUT.png [--size WxH] [--center X,Y] [--zoom Z] [--view VIEW.json] [--colour C]

``--view`` takes a view shared from the studio's Explore tab (exact centre and zoom).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_explore_commands(sub) -> None:
    from .cli import _center, _positive, _size, add_colour

    p = sub.add_parser("poster", help="render one view as a PNG poster, up to 16384x16384 (streamed, tiled)")
    p.add_argument("input", metavar="IN", help="an image or a .collage code")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument(
        "--size", type=_size, default=(4096, 4096), help="poster size WxH, up to 16384x16384 (default 4096x4096)"
    )
    p.add_argument("--center", type=_center, metavar="X,Y", help="view centre in 0..1 (default 0.5,0.5)")
    p.add_argument("--zoom", type=_positive(float), help="the poster spans 1/ZOOM of the image width (default 1)")
    p.add_argument("--view", metavar="VIEW.json", help="a view shared from the Explore tab (overrides --center/--zoom)")
    p.add_argument("--preset", help="a look to fit an image with (default deep-zoom)")
    p.add_argument("--no-autocontrast", action="store_true", help="raw values: deep views look flat")
    add_colour(p, "true (default: levels on luma, the photo's colours)")
    p.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, mps")
    p.set_defaults(func=cmd_poster)


def cmd_poster(args: argparse.Namespace) -> int:
    import collage_core as cc

    from . import callbacks
    from .cli import _check_output, _load_input, _tqdm_progress

    out = _check_output(args.output, (".png",))
    center, zoom = args.center or (0.5, 0.5), args.zoom or 1.0
    if args.view:
        try:
            text = Path(args.view).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the view {args.view}: {exc}") from None
        spec = cc.ViewSpec.parse(text)
        center, zoom = spec.center, spec.zoom
    code, _, _ = _load_input(args.input, callbacks.resolve_config(args.preset or "deep-zoom"), args)
    if args.view:
        spec.check_code(code)
    bar = _tqdm_progress("poster", 1)

    def report(done: int, total: int) -> None:
        bar(done / total)

    try:
        cc.render_poster(
            code, out, size=args.size, center=center, zoom=zoom, progress=report,
            autocontrast=False if args.no_autocontrast else (args.colour or True), device=args.device,
        )  # fmt: skip
    finally:
        bar.close()
    print(f"wrote {out} ({args.size[0]}x{args.size[1]}, zoom {float(zoom):.4g}, {out.stat().st_size / 2**20:.1f} MB)")
    return 0
