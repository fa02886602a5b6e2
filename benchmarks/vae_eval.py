"""Rate-distortion table and plot over beta for whichever checkpoints exist.

    python benchmarks/vae_eval.py --runs-dir runs --out docs/vae

Looks for ``<runs-dir>/{collage,baseline}_beta<b>.safetensors`` for b in
{0.5, 0.7, 1, 1.2, 1.5}, scores each on the MNIST test set (binarised once, seed 0; a
``<name>.test.json`` written by ``vae_sweep.py`` for the same epoch is reused), prints a
markdown table (missing runs marked "not yet run"; the last column is the smallest KL of
any latent group, the collapse check), and writes ``rd_results.json`` and
``rate_distortion.png`` (drawn with PIL; matplotlib not needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collage_core import vae  # noqa: E402

BETAS = (0.5, 0.7, 1.0, 1.2, 1.5)
MODELS = ("collage", "baseline")
COLOURS = {"collage": (200, 40, 40), "baseline": (40, 80, 200)}


def plot(results: list[dict], path: Path) -> None:
    """Distortion (y) against rate (x), one marker per run, labelled with beta."""
    from PIL import Image, ImageDraw

    done = [r for r in results if "rate" in r]
    W, H, m = 640, 440, 60
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    if not done:
        d.text((m, H // 2), "no runs yet", fill="black")
        img.save(path)
        return
    rates = [r["rate"] for r in done]
    dists = [r["distortion"] for r in done]
    x_lo, x_hi = min(rates) - 3, max(rates) + 3
    y_lo, y_hi = min(dists) - 3, max(dists) + 3

    def xy(rate, dist):
        return (m + (rate - x_lo) / (x_hi - x_lo) * (W - 2 * m), H - m - (dist - y_lo) / (y_hi - y_lo) * (H - 2 * m))

    d.rectangle([m, m, W - m, H - m], outline="black")
    for k in range(5):
        xv = x_lo + k * (x_hi - x_lo) / 4
        yv = y_lo + k * (y_hi - y_lo) / 4
        px, _ = xy(xv, y_lo)
        _, py = xy(x_lo, yv)
        d.line([px, H - m, px, H - m + 5], fill="black")
        d.text((px - 12, H - m + 8), f"{xv:.0f}", fill="black")
        d.line([m - 5, py, m, py], fill="black")
        d.text((m - 40, py - 6), f"{yv:.0f}", fill="black")
    d.text((W // 2 - 80, H - 25), "rate KL(q||p) [nats]", fill="black")
    d.text((8, 20), "distortion -log p(x|z) [nats]", fill="black")
    for i, model in enumerate(MODELS):
        pts = sorted((r for r in done if r["model"] == model), key=lambda r: r["rate"])
        c = COLOURS[model]
        if len(pts) > 1:
            d.line([xy(r["rate"], r["distortion"]) for r in pts], fill=c, width=2)
        for r in pts:
            px, py = xy(r["rate"], r["distortion"])
            d.ellipse([px - 5, py - 5, px + 5, py + 5], fill=c)
            # Both curves fall to the right and the Collage's lies just above: its labels go up and
            # right, the baseline's down and left, clear of both lines where the runs crowd.
            d.text(
                (px + 6, py - 18) if model == "collage" else (max(px - 34, m + 3), py + 5), f"b={r['beta']:g}", fill=c
            )
        d.rectangle([W - m - 150, m + 10 + 18 * i, W - m - 140, m + 20 + 18 * i], fill=c)
        d.text((W - m - 134, m + 8 + 18 * i), {"collage": "Collage VAE", "baseline": "conv baseline"}[model], fill=c)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=Path("docs/vae"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = vae.load_mnist("test", args.data_dir, download=False)
    results = []
    for beta in BETAS:
        for model in MODELS:
            path = args.runs_dir / f"{model}_beta{beta:g}.safetensors"
            row = {"model": model, "beta": beta, "checkpoint": path.name}
            if path.is_file():
                net, _, state = vae.load_checkpoint(path)
                cached = path.with_suffix(".test.json")
                res = json.loads(cached.read_text()) if cached.is_file() else {}
                if res.get("epochs") != state.get("epoch"):
                    res = vae.evaluate(net, test, seed=0, beta=beta)
                row.update(
                    neg_elbo=res["neg_elbo"],
                    rate=res["rate"],
                    distortion=res["distortion"],
                    epochs=state.get("epoch"),
                    warm_start=Path(state["init_from"]).name if state.get("init_from") else None,
                    kl_layers=res["kl_layers"],
                )
            results.append(row)
    print("| beta | model | training | test -ELBO | rate | distortion | min group KL |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "rate" in r:
            how = f"{r['epochs']} epochs"
            if r.get("warm_start"):
                how = f"warm start from {Path(r['warm_start']).name}, +{r['epochs']} epochs"
            print(
                f"| {r['beta']:g} | {r['model']} | {how} | {r['neg_elbo']:.2f} | {r['rate']:.2f} | {r['distortion']:.2f} "
                f"| {min(r['kl_layers']):.2f} |"
            )
        else:
            print(f"| {r['beta']:g} | {r['model']} | not yet run | - | - | - | - |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rd_results.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / "rate_distortion.png")
    print(f"wrote {args.out / 'rd_results.json'} and {args.out / 'rate_distortion.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
