"""Weight averages over the beta = 1 tail: does a longer average close the Collage's gap?

    python benchmarks/vae_averages.py --model collage --from runs/collage_beta1_epoch12.safetensors --out runs/avg
    python benchmarks/vae_averages.py --model baseline --from runs/baseline_beta1_epoch12.safetensors --out runs/avg

Re-runs the shipped tail (``--epochs 16 --decay-epochs 12 --ema 0.999`` from a 12-epoch
checkpoint, one thread) and keeps more averages beside the shipped one: EMAs with decays
0.9995 and 0.9998, and uniform averages over every step of the last 2 and of all 4
epochs. The averages only watch, so the run's raw weights and its 0.999 average are the
shipped run's. Each average is written as ``<out>/<model>_beta1_<name>.safetensors`` and
scored on the validation subset and the test set (one JSON line each). About 1 hour for
the Collage and 40 minutes for the baseline on one core. Results: ``docs/vae.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import cli_vae  # noqa: E402
from collage_core import vae  # noqa: E402
from collage_core.vae.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from collage_core.vae.ema import WeightEMA  # noqa: E402

TRAIN = sys.modules["collage_core.vae.train"]  # the module (``vae.train`` is its function)
DECAYS = (0.9995, 0.9998)
UNIFORM = {"swa4": 0, "swa2": 2}  # name: epochs of the tail skipped before averaging


class ManyAverages(WeightEMA):
    """The shipped EMA, plus more EMAs and uniform averages updated after the same steps."""

    latest: ManyAverages | None = None

    def __init__(self, model, decay):
        super().__init__(model, decay)
        self.extra = {d: WeightEMA(model, d) for d in DECAYS}
        self.sums: dict[str, dict[str, torch.Tensor]] = {}
        self.counts = dict.fromkeys(UNIFORM, 0)
        self.steps = 0
        ManyAverages.latest = self

    def load(self, tensors):
        super().load(tensors)
        for average in self.extra.values():
            average.load(tensors)

    @torch.no_grad()
    def update(self, model):
        super().update(model)
        own = {k: v.detach() for k, v in model.state_dict().items() if k in self.shadow}
        for average in self.extra.values():
            average.update(model)
        self.steps += 1
        for name, skip in UNIFORM.items():
            if self.steps > skip * self.steps_per_epoch:
                total = self.sums.setdefault(
                    name, {k: torch.zeros_like(v, dtype=torch.float64) for k, v in own.items()}
                )
                for k, v in own.items():
                    total[k] += v
                self.counts[name] += 1

    def averages(self) -> dict[str, dict[str, torch.Tensor]]:
        out = {f"ema{d}": average.shadow for d, average in self.extra.items()}
        for name, total in self.sums.items():
            out[name] = {k: (v / self.counts[name]).float() for k, v in total.items()}
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("collage", "baseline"), required=True)
    parser.add_argument("--from", dest="source", required=True, help="the beta = 1 run's 12-epoch checkpoint")
    parser.add_argument("--out", default="runs/averages")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = out / f"{args.model}_beta1.safetensors"
    if not run.exists():
        shutil.copy(args.source, run)
    state = json.loads(vae.read_checkpoint(run)[2]["train_state"])
    ManyAverages.steps_per_epoch = state["step"] // state["epoch"]  # as the run has trained
    TRAIN.WeightEMA = ManyAverages
    argv = ["train-vae", "--model", args.model, "--beta", "1", "--epochs", "16", "--decay-epochs", "12"]
    argv += [
        "--ema",
        "0.999",
        "--seed",
        "0",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(run),
        "--resume",
        str(run),
    ]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    cli_vae.main(argv)
    if ManyAverages.latest is None or ManyAverages.latest.steps == 0:
        sys.exit(f"{run} had no epochs left to train: start from a 12-epoch checkpoint")
    model, _, _ = load_checkpoint(run, use_ema=False)
    splits = {
        "valid": vae.load_mnist("valid", args.data_dir)[: TRAIN.VALID_SUBSET],
        "test": vae.load_mnist("test", args.data_dir),
    }
    for name, weights in ManyAverages.latest.averages().items():
        model.load_state_dict(weights, strict=False)
        save_checkpoint(out / f"{args.model}_beta1_{name}.safetensors", model, None, {"average": name})
        scores = {split: vae.evaluate(model, images, seed=0) for split, images in splits.items()}
        line = {"model": args.model, "average": name}
        for split, s in scores.items():
            line.update({f"{split}_neg_elbo": round(s["neg_elbo"], 3), f"{split}_rate": round(s["rate"], 3)})
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
