"""docs/vae/samples.png: 32 samples of each model side by side, the same seed and settings.

    python benchmarks/vae_samples_figure.py [--out docs/vae/samples.png] [--n 32] [--seed 0]
        [--collage runs/collage_beta1.safetensors] [--baseline runs/baseline_beta1.safetensors]

Each half is exactly ``collage sample -o X.png --n 32 --magnify 2 --seed 0 --cols 8 --ink
dark`` (with ``--model baseline`` or ``--checkpoint`` for the others), under a title: the
figure's digits are the ones a user gets from the CLI and the studio.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def sheet(model, n: int, seed: int, magnify: int = 2, cols: int = 8):
    """Dark ink on white, ``cols`` digits a row: the CLI's ``--ink dark --cols`` sheet."""
    from app.callbacks import contact_sheet, gray_image

    x = model.sample(n=n, magnify=magnify, temperature=1.0, seed=seed)
    return contact_sheet([gray_image(t, ink="dark") for t in x], cols=min(n, cols))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/vae/samples.png"))
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--collage", type=Path, default=None, help="checkpoint (default: the shipped weights)")
    p.add_argument("--baseline", type=Path, default=None, help="checkpoint (default: the shipped weights)")
    args = p.parse_args(argv)

    import torch
    from PIL import Image, ImageDraw

    from collage_core import vae

    torch.set_num_threads(1)
    halves = []
    for which, path in (("collage", args.collage), ("baseline", args.baseline)):
        model = vae.load_pretrained(which, checkpoint=path)
        with torch.no_grad():
            halves.append(sheet(model, args.n, args.seed))
    titles = (
        f"Collage VAE ({'shipped' if args.collage is None else args.collage.stem}), "
        f"{args.n} samples, seed {args.seed}, temperature 1, 2x",
        "conv baseline, same settings (bicubic 2x)",
    )
    gap, head = 20, 24
    w, h = halves[0].size
    canvas = Image.new("L", (2 * w + gap, h + head), 255)
    draw = ImageDraw.Draw(canvas)
    for i, (half, title) in enumerate(zip(halves, titles, strict=True)):
        canvas.paste(half, (i * (w + gap), head))
        draw.text((i * (w + gap) + 2, 4), title, fill=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out} ({canvas.width}x{canvas.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
