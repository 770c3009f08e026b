"""Tests of reprolib.train (the training loop, checkpoints, exact resume, the model cache) and
reprolib.modelinfo (parameter and feature memory)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from reprolib.modelinfo import count_parameters, feature_memory, parameter_memory
from reprolib.files import atomic_write
from reprolib.train import TrainConfig, lr_factor, show_progress, train
from reprolib.modelcache import fit_with, load_or_train, model_key

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The nets here are tiny: one intra-op thread is faster, and steadier on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------
# a tiny conv net with batchnorm and dropout, and a deterministic data stream


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout2d(0.3),
            nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(), nn.Dropout(0.2),
        )
        self.head = nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build() -> TinyNet:
    torch.manual_seed(123)
    return TinyNet()


def get_batch(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(4, 1, 8, 8, generator=g)
    return {"x": x, "y": torch.cat([x.flip(-1), -x], 1)}


def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]):
    err = model(batch["x"]) - batch["y"]
    # np.random and random are used on purpose: resume must restore their states too
    jitter = 1.0 + 0.01 * float(np.random.rand()) + 0.01 * random.random()
    return (err**2).mean() * jitter, {"mae": err.abs().mean(), "const": 2.0}


def weights_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


CFG = dict(steps=23, lr=3e-3, weight_decay=1e-3, lr_milestones=(10, 18), lr_gamma=(0.5, 0.2),
           checkpoint_every=5, log_every=4, seed=7)


class Crash(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------
# configuration


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(steps=0), "steps"),
        (dict(steps=2.5), "steps"),
        (dict(lr=-1.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(betas=(0.9, 1.0)), "betas"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(optimizer="sgd"), "optimizer"),
        (dict(lr_milestones=(5, 5)), "lr_milestones"),
        (dict(lr_milestones=(5,), lr_gamma=(0.1, 0.1)), "lr_gamma"),
        (dict(grad_clip=0.0), "grad_clip"),
        (dict(checkpoint_every=0), "checkpoint_every"),
        (dict(log_every=0), "log_every"),
        (dict(seed=-1), "seed"),
        (dict(amp="yes"), "amp"),
        (dict(amp_dtype="float8"), "amp_dtype"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    base = dict(steps=10, lr=1e-3)
    base.update(kwargs)
    with pytest.raises(ValueError, match=field):
        TrainConfig(**base)


def test_step_decay_matches_the_papers_schedule():
    # paper footnote 2: 3e-5, dropped to 1e-5 at 200k and to 3e-6 at 375k iterations
    ms, g = (200_000, 375_000), (1 / 3, 0.3)
    lrs = [3e-5 * lr_factor(s, ms, g) for s in (0, 199_999, 200_000, 374_999, 375_000, 499_999)]
    assert lrs == pytest.approx([3e-5, 3e-5, 1e-5, 1e-5, 3e-6, 3e-6])
    # a single gamma applies at every milestone, like MultiStepLR
    assert lr_factor(30, (10, 20), 0.1) == pytest.approx(0.01)


# ------------------------------------------------------------------------------------------
# the loop


def test_history_records_means_lr_and_logged_values():
    cfg = TrainConfig(**CFG)
    h = train(build(), loss_fn, get_batch, cfg, device="cpu", progress=False)
    assert h["step"] == [4, 8, 12, 16, 20, 23]  # every log_every steps, and the last step
    assert h["lr"] == pytest.approx([3e-3, 3e-3, 1.5e-3, 1.5e-3, 3e-4, 3e-4])
    n = len(h["step"])
    assert len(h["loss"]) == len(h["mae"]) == len(h["const"]) == n
    assert h["const"] == [2.0] * n  # the mean of a constant logged value is that constant
    assert h["loss"][-1] < h["loss"][0]  # it learns
    assert h["wall_seconds"] > 0 and h["steps_per_second"] == pytest.approx(23 / h["wall_seconds"])


def test_training_is_deterministic_given_the_seed():
    cfg = TrainConfig(**CFG)
    a, b = build(), build()
    train(a, loss_fn, get_batch, cfg, device="cpu", progress=False)
    train(b, loss_fn, get_batch, cfg, device="cpu", progress=False)
    assert weights_equal(a, b)
    assert not a.training  # left in eval mode


def test_exact_resume_after_a_crash_at_a_random_step(tmp_path):
    cfg = TrainConfig(**CFG)
    reference = build()
    h_ref = train(reference, loss_fn, get_batch, cfg, device="cpu", progress=False)

    crash_at = int(np.random.default_rng(0).integers(6, cfg.steps - 1))  # after >= 1 checkpoint

    def crashing_batch(step: int):
        if step == crash_at:
            raise Crash(f"simulated crash at step {step}")
        return get_batch(step)

    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Crash):
        train(build(), loss_fn, crashing_batch, cfg, device="cpu", progress=False, checkpoint_path=ckpt)
    assert torch.load(ckpt, weights_only=True)["step"] == crash_at // cfg.checkpoint_every * cfg.checkpoint_every

    # the RNGs are disturbed in between, as they would be in a new process
    torch.manual_seed(999), np.random.seed(999), random.seed(999)
    resumed = build()
    h = train(resumed, loss_fn, get_batch, cfg, device="cpu", progress=False, checkpoint_path=ckpt)
    assert weights_equal(resumed, reference)
    for k in ("step", "loss", "lr", "mae"):
        assert h[k] == h_ref[k]
    assert list(tmp_path.iterdir()) == [ckpt]  # no temporary files left behind


def test_stop_after_then_resume_at_an_odd_step_is_exact(tmp_path):
    cfg = TrainConfig(**{**CFG, "checkpoint_every": None})
    reference = build()
    train(reference, loss_fn, get_batch, cfg, device="cpu", progress=False)
    ckpt = tmp_path / "run.ckpt"
    first = build()
    h1 = train(first, loss_fn, get_batch, cfg, device="cpu", progress=False, checkpoint_path=ckpt, stop_after=9)
    assert h1["step"][-1] == 8 and not weights_equal(first, reference)
    second = build()
    train(second, loss_fn, get_batch, cfg, device="cpu", progress=False, checkpoint_path=ckpt)
    assert weights_equal(second, reference)


def test_resume_refuses_a_different_configuration(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    train(build(), loss_fn, get_batch, TrainConfig(**CFG), device="cpu", progress=False,
          checkpoint_path=ckpt, stop_after=5)
    changed = TrainConfig(**{**CFG, "lr": 1e-4, "seed": 8})
    with pytest.raises(ValueError, match=r"(?s)lr: checkpoint has 0\.003, now 0\.0001.*seed"):
        train(build(), loss_fn, get_batch, changed, device="cpu", progress=False, checkpoint_path=ckpt)
    # more steps (and other logging) are allowed: training continues to the new cfg.steps
    longer = TrainConfig(**{**CFG, "steps": 30, "log_every": 5})
    h = train(build(), loss_fn, get_batch, longer, device="cpu", progress=False, checkpoint_path=ckpt)
    assert h["step"][-1] == 30 and torch.load(ckpt, weights_only=True)["step"] == 30


def test_grad_clip_bounds_the_update_of_a_given_optimizer():
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    before = torch.cat([p.detach().flatten() for p in model.parameters()]).clone()
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    cfg = TrainConfig(steps=1, lr=1.0, grad_clip=0.01)
    big = lambda m, b: (m(b) * 1000.0).sum()  # noqa: E731 - a huge gradient
    train(model, big, lambda s: torch.ones(3, 5), cfg, device="cpu", progress=False, optimizer=sgd)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.linalg.vector_norm(after - before).item() == pytest.approx(0.01, rel=1e-4)


def test_bad_loss_outputs_are_clear_errors():
    cfg = TrainConfig(steps=3, lr=1e-3)
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="scalar"):
        train(m, lambda m, b: m(b), lambda s: torch.ones(3, 2), cfg, device="cpu", progress=False)
    with pytest.raises(ValueError, match="'loss'"):
        train(m, lambda m, b: (m(b).sum(), {"loss": 1.0}), lambda s: torch.ones(3, 2), cfg, device="cpu",
              progress=False)
    with pytest.raises(FloatingPointError, match="step 3"):
        train(m, lambda m, b: m(b).sum() * float("nan"), lambda s: torch.ones(3, 2), cfg, device="cpu",
              progress=False)


def test_progress_is_automatic_and_quiet_when_asked(monkeypatch):
    monkeypatch.setenv("REPROLIB_QUIET", "1")
    assert show_progress(None) is False
    assert show_progress(True) is True
    monkeypatch.delenv("REPROLIB_QUIET")
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert show_progress(None) is False  # pytest's captured stderr is no terminal, no kernel here


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def failing(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


# ------------------------------------------------------------------------------------------
# the model cache


def _fit_counter(calls: list, cfg: TrainConfig):
    fit = fit_with(loss_fn, get_batch, cfg, device="cpu", progress=False)

    def counted(model, checkpoint_path):
        calls.append(checkpoint_path)
        return fit(model, checkpoint_path)

    return counted


def _crashing_fit(cfg: TrainConfig, at_step: int, message: str):
    """A fit whose batch source dies at ``at_step``, as a kernel crash or a Colab disconnect would."""

    def batch(step):
        if step == at_step:
            raise Crash(message)
        return get_batch(step)

    return fit_with(loss_fn, batch, cfg, device="cpu", progress=False)


def test_fit_with_trains_and_checkpoints_at_the_given_path(tmp_path):
    cfg = TrainConfig(**{**CFG, "steps": 8, "checkpoint_every": 4})
    ckpt = tmp_path / "run.ckpt"
    torch.manual_seed(0)
    with pytest.raises(Crash):
        _crashing_fit(cfg, 6, "stop")(TinyNet(), ckpt)
    assert ckpt.exists()  # the checkpoint of step 4 went where load_or_train asked
    resumed = TinyNet()  # other initial weights: the checkpoint replaces them
    history = fit_with(loss_fn, get_batch, cfg, device="cpu", progress=False)(resumed, ckpt)
    assert history["step"][-1] == 8
    torch.manual_seed(0)
    straight = TinyNet()
    fit_with(loss_fn, get_batch, cfg, device="cpu", progress=False)(straight, tmp_path / "other.ckpt")
    assert weights_equal(resumed, straight)


def test_load_or_train_caches_by_config(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    monkeypatch.delenv("REPROLIB_RETRAIN", raising=False)
    cfg = TrainConfig(**{**CFG, "steps": 6})
    config = {"steps": 6, "width": 6, "seed": 7}
    calls: list = []
    m1, info1 = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), device="cpu")
    assert info1["cached"] is False and len(calls) == 1
    assert info1["path"].parent == tmp_path / "models" / "ch" / "smoke"
    assert info1["path"].name == model_key("tiny", config) + ".pt"
    assert not calls[0].exists()  # the checkpoint is removed once the final weights are saved

    m2, info2 = load_or_train("ch", "tiny", "smoke", dict(reversed(config.items())), TinyNet,
                              _fit_counter(calls, cfg), device="cpu")
    assert info2["cached"] is True and len(calls) == 1  # key order does not matter
    assert weights_equal(m1, m2) and not m2.training
    assert info2["history"]["loss"] == info1["history"]["loss"]

    _, info3 = load_or_train("ch", "tiny", "smoke", {**config, "width": 7}, TinyNet, _fit_counter(calls, cfg),
                             device="cpu")
    assert info3["cached"] is False and info3["path"] != info1["path"]

    load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), force=True, device="cpu")
    monkeypatch.setenv("REPROLIB_RETRAIN", "1")
    m5, _ = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), device="cpu")
    assert len(calls) == 4
    assert weights_equal(m5, m1)  # seeded from config["seed"]: retraining gives the same weights


def test_load_or_train_rejects_bad_config(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    with pytest.raises(TypeError, match="JSON"):
        load_or_train("ch", "tiny", "smoke", {"f": object()}, TinyNet, lambda m, p: {}, device="cpu")
    with pytest.raises(ValueError, match="name"):
        load_or_train("ch", "../evil", "smoke", {}, TinyNet, lambda m, p: {}, device="cpu")


# ------------------------------------------------------------------------------------------
# model facts


def test_count_parameters_known_values():
    assert count_parameters(nn.Linear(3, 4)) == 3 * 4 + 4
    conv = nn.Conv2d(1, 2, 3)
    assert count_parameters(conv) == 1 * 2 * 3 * 3 + 2
    bn = nn.BatchNorm2d(5)  # running stats are buffers, not parameters
    assert count_parameters(bn) == 10
    net = nn.Sequential(conv, nn.Conv2d(2, 2, 1, bias=False))
    net[1].weight.requires_grad_(False)
    assert count_parameters(net) == 20 + 4 and count_parameters(net, trainable_only=True) == 20
    assert parameter_memory(net) == 24 * 4
    assert parameter_memory(net.to(torch.float64)) == 24 * 8


def test_feature_memory_counts_leaf_outputs_and_shares_in_place_storage():
    x = torch.randn(1, 1, 8, 8)
    one_map = 2 * 8 * 8 * 4  # a 2-channel 8x8 float32 feature map, in bytes
    inplace = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True))
    copying = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    assert feature_memory(inplace, x) == one_map
    assert feature_memory(copying, x) == 2 * one_map
    assert feature_memory(inplace, x, shared_once=False) == 2 * one_map  # as if ReLU copied
    # a stride-2 conv then BN then a view: 2x4x4 + 2x4x4 (BN is a new map), Flatten adds nothing
    bn_net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.BatchNorm2d(2), nn.Flatten())
    bn_net.train()
    before = bn_net[1].running_mean.clone()
    assert feature_memory(bn_net, x) == 2 * (2 * 4 * 4 * 4)
    assert torch.equal(bn_net[1].running_mean, before) and bn_net.training  # no side effects


def test_load_or_train_resumes_an_interrupted_fit(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    monkeypatch.delenv("REPROLIB_RETRAIN", raising=False)
    cfg = TrainConfig(**{**CFG, "steps": 12, "checkpoint_every": 4})
    config = {"steps": 12, "seed": 7}

    crashing_fit = _crashing_fit(cfg, 10, "kernel died")
    with pytest.raises(Crash):
        load_or_train("ch", "tiny", "smoke", config, TinyNet, crashing_fit, device="cpu")
    calls: list = []
    resumed, info = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), device="cpu")
    assert torch.load(info["path"], weights_only=True)["history"]["step"] == [4, 8, 12]
    fresh, _ = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), force=True,
                             device="cpu")
    assert weights_equal(resumed, fresh)  # resuming from step 8 gave the uninterrupted result


def test_amp_dtype_follows_the_gpu_generation(monkeypatch):
    from reprolib.train import _amp_setup

    cfg = TrainConfig(steps=1, lr=1e-3)
    assert _amp_setup(cfg, torch.device("cpu")) == (False, None)  # AMP is CUDA-only
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4
    assert _amp_setup(cfg, torch.device("cuda")) == (True, torch.float16)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # H100
    assert _amp_setup(cfg, torch.device("cuda")) == (True, torch.bfloat16)
    assert _amp_setup(TrainConfig(steps=1, lr=1e-3, amp=False), torch.device("cuda")) == (False, None)


def test_checkpoints_in_a_user_chosen_folder_survive_a_disconnect(tmp_path, monkeypatch):
    """Colab: the VM's disk is lost on a disconnect, a Drive folder is not. With use_checkpoint_dir the
    interrupted run's checkpoint lands in the chosen folder, and a new session resumes from it."""
    from reprolib.config import use_checkpoint_dir

    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "vm-disk"))
    monkeypatch.delenv("REPROLIB_RETRAIN", raising=False)
    drive = tmp_path / "drive" / "MyDrive" / "reprolib"
    use_checkpoint_dir(drive)
    cfg = TrainConfig(**{**CFG, "steps": 12, "checkpoint_every": 4})
    config = {"steps": 12, "seed": 3}

    crashing_fit = _crashing_fit(cfg, 9, "runtime disconnected")
    with pytest.raises(Crash):
        load_or_train("ch", "tiny", "smoke", config, TinyNet, crashing_fit, device="cpu")
    left = list(drive.rglob("*.ckpt"))
    assert left and all(drive in p.parents for p in left), "the checkpoint must be in the chosen folder"
    assert not (tmp_path / "vm-disk").exists()
    # a new session: the environment is fresh, the user runs the set-up cell again with the same folder
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "new-vm-disk"))
    use_checkpoint_dir(drive)
    calls: list = []
    resumed, info = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), device="cpu")
    assert info["path"].is_relative_to(drive)
    fresh, _ = load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter(calls, cfg), force=True,
                             device="cpu")
    assert weights_equal(resumed, fresh)


def test_progress_lines_go_to_the_progress_file_only_when_one_is_named(tmp_path, monkeypatch, capsys):
    from reprolib import progress

    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REPROLIB_RETRAIN", raising=False)
    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(log))
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)  # a step line at every step
    cfg = TrainConfig(**{**CFG, "steps": 4, "log_every": 2})
    config = {"steps": 4, "seed": 1}
    load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter([], cfg), device="cpu")
    load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter([], cfg), device="cpu")
    lines = log.read_text().splitlines()
    assert lines[0] == "ch/tiny (smoke): training"
    steps = [ln for ln in lines if ": step " in ln]
    assert [ln.split(": step ")[1].split(",")[0].split(" ")[0] for ln in steps] == ["1/4", "2/4", "3/4", "4/4"]
    assert all(ln.startswith("ch/tiny (smoke): step") for ln in steps) and "loss" in steps[-1]
    assert lines[-2].startswith("ch/tiny (smoke): trained in ") and lines[-1] == "ch/tiny (smoke): loaded from the model cache"
    assert capsys.readouterr().out == ""  # nothing printed where a notebook would show it
    monkeypatch.delenv(progress.PROGRESS_ENV)
    log.unlink()
    load_or_train("ch", "tiny", "smoke", config, TinyNet, _fit_counter([], cfg), device="cpu", force=True)
    assert not log.exists()


def test_atomic_write_gives_the_permissions_of_an_ordinary_new_file(tmp_path):
    import os
    import stat

    from reprolib.files import _umask

    old = os.umask(0o027)
    try:
        assert _umask() == 0o027
        path = tmp_path / "f.json"
        atomic_write(path, lambda f: f.write(b"x"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o640  # not the 0600 of a temporary file
    finally:
        os.umask(old)


# ------------------------------------------------------------------------------------------
# several optimisers (adversarial training)


class _Pair(nn.Module):
    """A toy generator/critic pair: G maps noise to points, D scores them."""

    def __init__(self):
        super().__init__()
        self.G, self.D = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))


def _pair_opts(m: _Pair) -> dict:
    return {"G": torch.optim.Adam(m.G.parameters(), lr=2e-3, betas=(0.5, 0.999)),
            "D": torch.optim.Adam(m.D.parameters(), lr=2e-3, betas=(0.5, 0.999))}


def _pair_step(m: _Pair, real: torch.Tensor, opts: dict):
    """One G step then one D step on the detached fake; the noise comes from the global generator."""
    fake = m.G(torch.randn(real.shape))
    opts["G"].zero_grad(set_to_none=True)
    g_loss = ((m.D(fake) - 1) ** 2).mean()
    g_loss.backward()
    opts["G"].step()
    opts["D"].zero_grad(set_to_none=True)
    d_loss = ((m.D(real) - 1) ** 2).mean() + (m.D(fake.detach()) ** 2).mean()
    d_loss.backward()
    opts["D"].step()
    return g_loss + d_loss, {"g": g_loss.detach(), "d": d_loss.detach()}


def _pair_batch(step: int) -> torch.Tensor:
    return torch.randn(8, 2, generator=torch.Generator().manual_seed(step)) + 3.0


PAIR_CFG = dict(steps=17, lr=2e-3, lr_linear=(8, 16), checkpoint_every=4, log_every=3, seed=3)


def _pair_train(m, cfg, **kw):
    return train(m, None, _pair_batch, cfg, device="cpu", progress=False, optimizer=_pair_opts(m), step_fn=_pair_step, **kw)


def test_several_optimisers_resume_exactly_with_their_states_and_the_rng(tmp_path):
    cfg = TrainConfig(**PAIR_CFG)
    torch.manual_seed(0)
    reference = _Pair()
    init = {k: v.clone() for k, v in reference.state_dict().items()}
    h_ref = _pair_train(reference, cfg)
    assert h_ref["step"] == [3, 6, 9, 12, 15, 17] and len(h_ref["g"]) == len(h_ref["d"]) == 6

    ckpt = tmp_path / "pair.ckpt"
    first = _Pair()
    first.load_state_dict(init)
    _pair_train(first, cfg, checkpoint_path=ckpt, stop_after=6)
    state = torch.load(ckpt, weights_only=True)
    assert sorted(state["optimizers"]) == ["D", "G"] and state["step"] == 6
    assert all(s["state"] for s in state["optimizers"].values())  # Adam moments of both are kept
    torch.manual_seed(123)  # a new process would start from another RNG state
    resumed = _Pair()
    resumed.load_state_dict(init)  # overwritten by the checkpoint anyway
    h = _pair_train(resumed, cfg, checkpoint_path=ckpt)
    assert weights_equal(resumed, reference)
    assert h["g"] == h_ref["g"] and h["lr"] == h_ref["lr"]


def test_the_schedule_reaches_every_optimiser_and_decays_linearly():
    cfg = TrainConfig(**PAIR_CFG)
    seen = []

    def step(m, batch, opts):
        seen.append((opts["G"].param_groups[0]["lr"], opts["D"].param_groups[0]["lr"]))
        return _pair_step(m, batch, opts)

    torch.manual_seed(0)
    m = _Pair()
    train(m, None, _pair_batch, cfg, device="cpu", progress=False, optimizer=_pair_opts(m), step_fn=step)
    expected = [2e-3 * lr_factor(s, (), 0.1, (8, 16)) for s in range(cfg.steps)]
    assert [g for g, _ in seen] == pytest.approx(expected) and [d for _, d in seen] == pytest.approx(expected)
    # constant up to step 7; from step 8 on 1 - (s + 1 - 8) / 9: 8/9 at step 8, 0 from step 16 on
    assert expected[7] == pytest.approx(2e-3) and expected[8] == pytest.approx(2e-3 * 8 / 9)
    assert expected[16] == 0.0


def test_step_mode_arguments_are_checked():
    m = _Pair()
    cfg = TrainConfig(steps=2, lr=1e-3)
    with pytest.raises(TypeError, match="not both"):
        train(m, lambda m, b: m.G(b).sum(), _pair_batch, cfg, device="cpu", optimizer=_pair_opts(m), step_fn=_pair_step)
    with pytest.raises(TypeError, match="mapping"):
        train(m, None, _pair_batch, cfg, device="cpu", optimizer=torch.optim.SGD(m.parameters(), lr=1.0),
              step_fn=_pair_step)
    with pytest.raises(ValueError, match="grad_clip"):
        train(m, None, _pair_batch, TrainConfig(steps=2, lr=1e-3, grad_clip=1.0), device="cpu",
              optimizer=_pair_opts(m), step_fn=_pair_step)
    with pytest.raises(ValueError, match="lr_linear"):
        TrainConfig(steps=2, lr=1e-3, lr_linear=(5, 3))


def test_a_checkpoint_with_other_optimisers_is_refused(tmp_path):
    ckpt = tmp_path / "pair.ckpt"
    cfg = TrainConfig(**PAIR_CFG)
    m = _Pair()
    _pair_train(m, cfg, checkpoint_path=ckpt, stop_after=4)
    only_g = {"G": torch.optim.Adam(m.G.parameters(), lr=1e-3)}
    with pytest.raises(ValueError, match=r"holds the optimisers \['D', 'G'\]"):
        train(m, None, _pair_batch, cfg, device="cpu", progress=False, optimizer=only_g, step_fn=_pair_step,
              checkpoint_path=ckpt)
