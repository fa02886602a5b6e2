"""Training the Collage VAE: the collapse remedies (free bits, KL balancing, EMA, update
skipping), resuming and lengthening runs, and the CLI's training options. Tiny models,
synthetic data, no download."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch
from vae_models import TINY, one_thread, synthetic_digits, tiny  # noqa: F401 (one_thread: autouse)

from collage_core import vae


def test_train_resume_and_log(tmp_path):
    data = synthetic_digits(32)
    cfg = vae.VAEConfig(likelihood="collage", **TINY)
    out = tmp_path / "run.safetensors"
    tc = vae.TrainConfig(epochs=1, batch_size=8, lr_warmup_steps=2)
    first = vae.train(cfg, tc, out, train_images=data, valid_images=data[:16], progress=False, log=lambda s: None)
    assert len(first["epochs"]) == 1
    tc2 = vae.TrainConfig(epochs=2, decay_epochs=1, batch_size=8, lr_warmup_steps=2)
    second = vae.train(
        None, tc2, out, resume=out, train_images=data, valid_images=data[:16], progress=False, log=lambda s: None
    )
    assert [e["epoch"] for e in second["epochs"]] == [1, 2]
    assert second["epochs"][-1]["step"] == 8
    for key in ("valid_neg_elbo", "valid_rate", "valid_distortion"):
        assert np.isfinite(second["epochs"][-1][key])
    assert len((tmp_path / "run.jsonl").read_text().splitlines()) == 2
    warm = vae.train(
        None,
        tc,
        tmp_path / "warm.safetensors",
        init_from=out,
        train_images=data,
        valid_images=data[:16],
        progress=False,
        log=lambda s: None,
    )
    assert [e["epoch"] for e in warm["epochs"]] == [1]


def test_free_bits_act_per_group_not_per_latent():
    # (B, L): group 0 has a batch mean of 0.9 nats, one image above the 1-nat floor.
    kl = torch.tensor([[0.2, 3.0], [1.6, 5.0]], requires_grad=True)
    penalty, coeffs = vae.kl_penalty(kl, (10, 10), weight=1.0, beta=1.0, free_bits=1.0)
    assert penalty.item() == pytest.approx(1.0 + 4.0)
    assert torch.equal(coeffs, torch.ones(2))
    penalty.backward()
    assert torch.all(kl.grad[:, 0] == 0)  # below the group's free bits: no pull to zero
    assert torch.allclose(kl.grad[:, 1], torch.full((2,), 0.5))


def test_kl_balancing_matches_nvae_reference_and_only_during_warmup():
    g = torch.Generator().manual_seed(0)
    kl = torch.rand(6, 4, generator=g) * torch.tensor([0.1, 2.0, 8.0, 30.0])
    sizes = (4, 64, 196, 784)
    # Written the way NVAE's kl_balancer does it (alpha_i = group size, normalised to mean 1).
    ref = (kl.mean(0) + 0.01) / torch.tensor(sizes, dtype=torch.float32)
    ref = ref / ref.mean()
    coeffs = vae.balance_coefficients(kl, sizes)
    assert torch.allclose(coeffs, ref) and coeffs.mean().item() == pytest.approx(1.0)
    warm, c_warm = vae.kl_penalty(kl, sizes, weight=0.3, beta=1.0, balance=True)
    assert torch.allclose(c_warm, ref)
    assert warm.item() == pytest.approx(0.3 * (ref * kl.mean(0)).sum().item(), rel=1e-5)
    done, c_done = vae.kl_penalty(kl, sizes, weight=1.0, beta=1.0, balance=True)
    assert torch.equal(c_done, torch.ones(4)) and done.item() == pytest.approx(kl.mean(0).sum().item(), rel=1e-5)
    # Easing: full balancing until the last half of the warm-up, then linearly to 1.
    _, c_early = vae.kl_penalty(kl, sizes, weight=0.3, beta=1.0, balance=True, ease=0.5)
    _, c_mid = vae.kl_penalty(kl, sizes, weight=0.75, beta=1.0, balance=True, ease=0.5)
    _, c_late = vae.kl_penalty(kl, sizes, weight=0.999, beta=1.0, balance=True, ease=0.5)
    assert torch.allclose(c_early, ref) and torch.allclose(c_mid, (ref + 1) / 2)
    assert torch.allclose(c_late, torch.ones(4), atol=0.01 * float((ref - 1).abs().max()) + 1e-6)
    with pytest.raises(ValueError, match="kl_balance_ease"):
        vae.TrainConfig(kl_balance_ease=1.5)


def test_weight_ema_follows_the_formula_and_swaps_back():
    model = tiny()
    ema = vae.WeightEMA(model, 0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    key = "likelihood.params.bias"
    assert torch.allclose(ema.shadow[key], before[key] + 0.1, atol=1e-6)
    after = model.state_dict()[key].clone()
    with ema.swapped_in(model):
        assert torch.allclose(model.state_dict()[key], before[key] + 0.1, atol=1e-6)
    assert torch.equal(model.state_dict()[key], after)


def test_tiny_model_trains_with_every_remedy_logs_group_kl_and_resumes(tmp_path):
    data = synthetic_digits(24)
    cfg = vae.VAEConfig(likelihood="collage", **TINY)
    tc = vae.TrainConfig(epochs=1, batch_size=8, lr_warmup_steps=1, kl_warmup_epochs=2.0, ema_decay=0.9)
    assert tc.kl_balance and tc.free_bits > 0
    out = tmp_path / "run.safetensors"
    quiet = dict(train_images=data, valid_images=data[:8], progress=False, log=lambda s: None)
    first = vae.train(cfg, tc, out, **quiet)
    record = first["epochs"][0]
    assert len(record["train_kl_groups"]) == len(record["kl_layers"]) == 4
    assert all(np.isfinite(v) for v in record["train_kl_groups"])
    assert record["ema"] and record["grad_norm_max"] >= record["grad_norm_median"] > 0
    _, tensors, _ = vae.read_checkpoint(out)
    assert any(k.startswith("ema.") for k in tensors)
    # Evaluation loads the average; resuming trains the raw weights and keeps the average.
    avg, _, _ = vae.load_checkpoint(out)
    raw, _, _ = vae.load_checkpoint(out, use_ema=False)
    key = "likelihood.params.bias"
    assert torch.equal(avg.state_dict()[key], tensors["ema." + key])
    assert not torch.equal(avg.state_dict()[key], raw.state_dict()[key])
    longer = vae.TrainConfig(**{**json.loads(tc.to_json()), "epochs": 2, "decay_epochs": 1})
    second = vae.train(None, longer, out, resume=out, **quiet)
    assert [e["epoch"] for e in second["epochs"]] == [1, 2]
    with pytest.raises(ValueError, match="different training setup"):
        vae.train(None, vae.TrainConfig(epochs=3, batch_size=8, beta=0.5), out, resume=out, **quiet)
    exported = tmp_path / "ship.safetensors"
    assert vae.export_weights(out, exported)["ema"] is True
    shipped, _, _ = vae.load_checkpoint(exported)
    assert torch.equal(shipped.state_dict()[key], vae.load_checkpoint(out)[0].state_dict()[key])


def test_skip_grad_norm_skips_every_update(tmp_path):
    data = synthetic_digits(16)
    cfg = vae.VAEConfig(likelihood="conv", **TINY)
    tc = vae.TrainConfig(epochs=1, batch_size=8, skip_grad_norm=1e-9)
    torch.manual_seed(0)
    start = vae.build_vae(cfg).state_dict()
    res = vae.train(
        cfg, tc, tmp_path / "s.safetensors", train_images=data, valid_images=data, progress=False, log=lambda s: None
    )
    assert res["epochs"][0]["skipped_updates"] == 2
    end = res["model"].state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start)


def test_cli_recipes_and_options_reach_the_configs():
    from app.cli_vae import add_vae_commands, train_configs

    parser = argparse.ArgumentParser()
    add_vae_commands(parser.add_subparsers(dest="cmd"))
    model_cfg, train_cfg = train_configs(parser.parse_args(["train-vae"]))
    assert model_cfg == vae.VAEConfig() and train_cfg == vae.TrainConfig()
    model_cfg, train_cfg = train_configs(parser.parse_args(["train-vae", "--recipe", "v1", "--beta", "0.7"]))
    assert model_cfg.head == "mlp" and model_cfg.supersample == 1
    assert train_cfg.kl_warmup_epochs == 2.0 and train_cfg.free_bits == 0.5
    assert not train_cfg.kl_balance and train_cfg.beta == 0.7
    args = ["train-vae", "--recipe", "v1", "--head", "linear", "--no-kl-balance", "--ema", "0.999", "--free-bits", "2"]
    model_cfg, train_cfg = train_configs(parser.parse_args(args))
    assert model_cfg.head == "linear" and train_cfg.ema_decay == 0.999 and train_cfg.free_bits == 2.0
    args = ["train-vae", "--kl-balance", "--skip-grad-norm", "500", "--supersample", "2", "--kl-balance-ease", "0.4"]
    model_cfg, train_cfg = train_configs(parser.parse_args(args))
    assert train_cfg.kl_balance and train_cfg.skip_grad_norm == 500 and model_cfg.supersample == 2
    assert train_cfg.kl_balance_ease == 0.4
    args = ["train-vae", "--epochs", "20", "--decay-epochs", "12", "--anneal-epochs", "4"]
    assert train_configs(parser.parse_args(args))[1].anneal_epochs == 4.0
    model_cfg, _ = train_configs(parser.parse_args(["train-vae", "--param-features", "32", "--param-hidden", "512"]))
    assert model_cfg.param_features == 32 and model_cfg.param_hidden == 512 and not model_cfg.param_block
    assert train_configs(parser.parse_args(["train-vae", "--param-block"]))[0].param_block
    assert train_configs(parser.parse_args(["train-vae", "--collage-channels", "8"]))[0].collage_channels == 8
    assert train_configs(parser.parse_args(["train-vae", "--param-side", "7"]))[0].param_side == 7
    for name, (model_over, _) in vae.RECIPES.items():  # every recipe is reachable from the CLI
        assert all(
            getattr(train_configs(parser.parse_args(["train-vae", "--recipe", name]))[0], k) == v
            for k, v in model_over.items()
        )
    v2 = train_configs(parser.parse_args(["train-vae", "--recipe", "v2"]))[0]  # the 7x7 read-out
    assert (v2.param_side, v2.param_features) == (7, 16) and v2.layout == "blend" and v2.head == "linear"
    with pytest.raises(ValueError, match="param_side"):
        vae.VAEConfig(param_side=9)
    with pytest.raises(ValueError, match="param_hidden"):
        vae.VAEConfig(param_hidden=-1)


def test_a_run_lengthened_with_decay_epochs_equals_a_fresh_longer_run(tmp_path):
    from collage_core.vae.train import learning_rate

    """decay_epochs fixes the cosine schedule, so 1 epoch resumed to 2 is the 2-epoch run."""
    data = synthetic_digits(32)
    cfg = vae.VAEConfig(likelihood="collage", **TINY)
    quiet = dict(train_images=data, valid_images=data[:8], progress=False, log=lambda s: None)
    steps = 4  # per epoch: 32 images / batch 8
    tc = vae.TrainConfig(epochs=2, decay_epochs=1, batch_size=8, lr_warmup_steps=1)
    assert learning_rate(tc, 2 * steps - 1, steps) == pytest.approx(0.1 * tc.lr)
    fresh = tmp_path / "fresh.safetensors"
    vae.train(cfg, tc, fresh, **quiet)
    short = tmp_path / "short.safetensors"
    vae.train(cfg, vae.TrainConfig(epochs=1, batch_size=8, lr_warmup_steps=1), short, **quiet)
    vae.train(None, tc, short, resume=short, **quiet)
    a, b = vae.read_checkpoint(fresh)[1], vae.read_checkpoint(short)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="decay_epochs"):
        vae.TrainConfig(epochs=2, decay_epochs=3)
    with pytest.raises(ValueError, match="keep its decay_epochs"):  # a silent change of schedule
        vae.train(None, vae.TrainConfig(epochs=3, batch_size=8, lr_warmup_steps=1), short, resume=short, **quiet)


def test_the_final_anneal_follows_its_cosine_and_can_be_added_to_a_finished_run(tmp_path):
    """After the hold the rate falls from 10% to 1% of lr over the last anneal_epochs; a
    1-epoch run lengthened to 3 with the anneal is the fresh 3-epoch annealed run."""
    from collage_core.vae.train import learning_rate

    tc = vae.TrainConfig(epochs=4, decay_epochs=2, anneal_epochs=1, lr_warmup_steps=1)
    hold, half, end = (learning_rate(tc, s, 10) / tc.lr for s in (29, 35, 39))
    assert hold == pytest.approx(0.1) and half == pytest.approx(0.1 * 0.55)
    assert end == pytest.approx(0.1 * (0.1 + 0.45 * (1 + math.cos(math.pi * 0.9))))
    assert learning_rate(tc, 60, 10) / tc.lr == pytest.approx(0.01)  # held at 1% past the end
    for bad in (-0.5, 2.5):
        with pytest.raises(ValueError, match="anneal_epochs"):
            vae.TrainConfig(epochs=4, decay_epochs=2, anneal_epochs=bad)

    data = synthetic_digits(32)
    cfg = vae.VAEConfig(likelihood="collage", **TINY)
    quiet = dict(train_images=data, valid_images=data[:8], progress=False, log=lambda s: None)
    tail = vae.TrainConfig(epochs=3, decay_epochs=1, anneal_epochs=2, batch_size=8, lr_warmup_steps=1)
    fresh, short = tmp_path / "fresh.safetensors", tmp_path / "short.safetensors"
    vae.train(cfg, tail, fresh, **quiet)
    vae.train(cfg, vae.TrainConfig(epochs=1, batch_size=8, lr_warmup_steps=1), short, **quiet)
    vae.train(None, tail, short, resume=short, **quiet)
    a, b = vae.read_checkpoint(fresh)[1], vae.read_checkpoint(short)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    plain = tmp_path / "plain.safetensors"  # the anneal did change the tail
    vae.train(cfg, vae.TrainConfig(epochs=3, decay_epochs=1, batch_size=8, lr_warmup_steps=1), plain, **quiet)
    c = vae.read_checkpoint(plain)[1]
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_an_average_added_on_resume_leaves_the_raw_weights_alone(tmp_path):
    """A tail with EMA (ema_decay changed on resume) trains exactly the run without it."""
    data = synthetic_digits(32)
    cfg = vae.VAEConfig(likelihood="collage", **TINY)
    quiet = dict(train_images=data, valid_images=data[:8], progress=False, log=lambda s: None)
    first = vae.TrainConfig(epochs=1, batch_size=8, lr_warmup_steps=1)
    runs = {}
    for name, decay in (("plain", 0.0), ("averaged", 0.9)):
        path = tmp_path / f"{name}.safetensors"
        vae.train(cfg, first, path, **quiet)
        tail = vae.TrainConfig(epochs=2, decay_epochs=1, batch_size=8, lr_warmup_steps=1, ema_decay=decay)
        vae.train(None, tail, path, resume=path, **quiet)
        runs[name] = vae.read_checkpoint(path)[1]
    plain, averaged = runs["plain"], runs["averaged"]
    raw = [k for k in plain if not k.startswith("ema.")]
    assert raw and all(torch.equal(plain[k], averaged[k]) for k in raw)
    key = "likelihood.params.bias"
    assert "ema." + key not in plain and not torch.equal(averaged["ema." + key], averaged[key])


def test_time_limit_judges_the_next_epoch_by_the_median_one(tmp_path):
    from collage_core.vae.train import next_epoch_seconds

    assert next_epoch_seconds([]) == 0.0
    assert next_epoch_seconds([300.0]) == 300.0
    assert next_epoch_seconds([300.0, 2500.0]) == 300.0  # epoch 2 held a 30-minute pause
    assert next_epoch_seconds([320.0, 2500.0, 300.0]) == 320.0
    data = synthetic_digits(16)
    cfg = vae.VAEConfig(likelihood="conv", **TINY)
    quiet = dict(train_images=data, valid_images=data, progress=False, log=lambda s: None)
    short = vae.train(
        cfg, vae.TrainConfig(epochs=3, batch_size=8, time_limit_s=1e-6), tmp_path / "a.safetensors", **quiet
    )
    assert [e["epoch"] for e in short["epochs"]] == [1]  # the first epoch always runs
    full = vae.train(
        cfg, vae.TrainConfig(epochs=3, batch_size=8, time_limit_s=3600), tmp_path / "b.safetensors", **quiet
    )
    assert [e["epoch"] for e in full["epochs"]] == [1, 2, 3]
