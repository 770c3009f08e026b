"""Tests of reprolib.chapters.lpips.agreement: 2AFC / JND scoring, the low-level baselines, and learning LPIPS weights."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from reprolib.metrics.color import psnr
from reprolib.chapters.lpips.ranking import RankingHead, lr_schedule, ranking_loss, train_lin, weighted_distance
from reprolib.chapters.lpips.agreement import distance_fn_from_module, evaluate_2afc, evaluate_jnd, human_agreement_ceiling, jnd_map, oracle_2afc_score, two_afc_credit, two_afc_score, voc_average_precision
from reprolib.metrics.distances import l2_distance, psnr_distance, ssim_distance

# ---------------------------------------------------------------------------------------------
# a stand-in LPIPS with the interface of reprolib.metrics.lpips.LPIPS, and judgments with a known answer
# ---------------------------------------------------------------------------------------------


class TinyLPIPS(nn.Module):
    """Two "layers" of 4 channels: layer 0 sees only the R and G channels, layer 1 only B.

    Each layer is a 1x1 convolution with bias (so that unit-normalising keeps amplitude information),
    followed by the LPIPS recipe: unit-normalise over channels, squared difference, Dropout + 1x1 conv.
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.trunk = nn.ModuleList([nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)])
        with torch.no_grad():
            for k, conv in enumerate(self.trunk):
                mask = torch.tensor([1.0, 1.0, 0.0]) if k == 0 else torch.tensor([0.0, 0.0, 1.0])
                conv.weight.copy_(torch.randn(4, 3, 1, 1, generator=g) * mask.view(1, 3, 1, 1))
                conv.bias.copy_(torch.randn(4, generator=g))
        self.lins = nn.ModuleList([nn.Sequential(nn.Dropout(), nn.Conv2d(4, 1, 1, bias=False)) for _ in range(2)])
        with torch.no_grad():
            for lin in self.lins:
                lin[1].weight.fill_(1.0)
        self.forward_calls = 0

    def layer_distances(self, x0, x1):
        out = []
        for conv in self.trunk:
            f0, f1 = conv(x0), conv(x1)
            f0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            f1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            out.append((f0 - f1) ** 2)
        return out

    def forward(self, x0, x1):
        self.forward_calls += 1
        dists = self.layer_distances(x0, x1)
        return sum(lin[1](d).mean((2, 3), keepdim=True) for lin, d in zip(self.lins, dists))

    def project_nonnegative_(self):
        with torch.no_grad():
            for lin in self.lins:
                lin[1].weight.clamp_(min=0)


def lin_weights(m):
    return [lin[1].weight.detach().flatten().clone() for lin in m.lins]


def make_triplets(n, seed, size=8):
    """Triplets in [-1, 1] whose judgment depends only on the R,G noise (what layer 0 sees).

    p_i = ref + noise with amplitude a_i on R and G and b_i on B; judge = 1 (p1 closer) iff a_1 < a_0.
    The B noise is larger and independent of the judgment, so layer 1's distance only adds confusion.
    """
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, size, size, generator=g) * 1.6 - 0.8
    a = torch.rand(n, 2, generator=g) * 0.5
    b = torch.rand(n, 2, generator=g)
    ps = []
    for i in range(2):
        amp = torch.stack([a[:, i], a[:, i], b[:, i]], 1).view(n, 3, 1, 1)
        ps.append((ref + amp * torch.randn(n, 3, size, size, generator=g)).clamp(-1, 1))
    return ref, ps[0], ps[1], (a[:, 1] < a[:, 0]).float()


# ---------------------------------------------------------------------------------------------
# 2AFC
# ---------------------------------------------------------------------------------------------


def test_two_afc_credit_hand_computed_with_ties():
    d0 = [1.0, 2.0, 3.0, 4.0]
    d1 = [2.0, 1.0, 3.0, 5.0]
    judge = [0.2, 0.6, 0.8, 1.0]
    # x0 closer -> 1 - 0.2; x1 closer -> 0.6; tie -> 0.5; x0 closer but everybody chose x1 -> 0
    expected = torch.tensor([0.8, 0.6, 0.5, 0.0], dtype=torch.float64)
    assert torch.allclose(two_afc_credit(d0, d1, judge), expected)
    assert two_afc_score(d0, d1, judge) == pytest.approx(0.475)
    # shapes such as LPIPS's N x 1 x 1 x 1 and numpy inputs are accepted
    assert two_afc_score(torch.tensor(d0).view(4, 1, 1, 1), np.array(d1), torch.tensor(judge)) == pytest.approx(0.475)


def test_two_afc_input_errors():
    with pytest.raises(ValueError, match="one entry per example"):
        two_afc_score([1.0, 2.0], [1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\]"):
        two_afc_score([1.0], [2.0], [1.5])
    with pytest.raises(ValueError, match="finite"):
        two_afc_score([float("nan")], [2.0], [0.5])
    with pytest.raises(TypeError, match="sequence of numbers"):
        two_afc_score(object(), [1.0], [0.5])


def test_human_ceiling_and_oracle_known_values():
    judge = [0.8, 0.5, 0.0, 1.0]
    assert human_agreement_ceiling(judge) == pytest.approx((0.68 + 0.5 + 1 + 1) / 4)  # p^2 + (1-p)^2
    assert oracle_2afc_score(judge) == pytest.approx((0.8 + 0.5 + 1 + 1) / 4)  # max(p, 1-p)
    p = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    assert human_agreement_ceiling(p) <= oracle_2afc_score(p)
    # the oracle's score is what a metric siding with the majority (d0 < d1 iff judge < 0.5) earns
    assert two_afc_score(p, 1 - p, p) == pytest.approx(oracle_2afc_score(p))
    with pytest.raises(ValueError, match="fractions"):
        human_agreement_ceiling([-0.1])


def test_human_ceiling_is_the_agreement_of_a_random_observer():
    """Sec. 6.4.1: an agent that picks x1 with probability q = p agrees with p^2 + (1-p)^2 of the humans.

    Simulate such observers as a "metric" (d1 < d0 when it picks x1) and score them with two_afc_score.
    200 draws per triplet x 1000 triplets: the standard error of the mean credit is below 0.0012.
    """
    g = torch.Generator().manual_seed(1)
    p = torch.rand(1000, generator=g).repeat(200)
    picks_x1 = (torch.rand(p.shape, generator=g) < p).double()
    score = two_afc_score(picks_x1, 1 - picks_x1, p)  # picking x1 means d1 < d0
    assert score == pytest.approx(human_agreement_ceiling(p), abs=0.005)


# ---------------------------------------------------------------------------------------------
# JND
# ---------------------------------------------------------------------------------------------


def brute_force_interpolated_ap(distances, same):
    """All-points interpolated AP written out: p_interp(r_i) = max precision at recall >= r_i."""
    order = np.argsort(distances, kind="stable")
    s = np.asarray(same, dtype=float)[order]
    tp = np.cumsum(s)
    rec, prec = tp / s.sum(), tp / np.arange(1, len(s) + 1)
    ap, prev = 0.0, 0.0
    for i in range(len(s)):
        ap += (rec[i] - prev) * prec[i:].max()
        prev = rec[i]
    return ap


def test_jnd_map_known_rankings():
    same = [1.0, 1.0, 0.0, 0.0, 0.0]
    assert jnd_map([0.1, 0.2, 0.3, 0.4, 0.5], same) == pytest.approx(1.0)  # "same" pairs closest: perfect
    assert jnd_map([0.5, 0.4, 0.3, 0.2, 0.1], same) == pytest.approx(0.4)  # reversed: the base rate 2/5
    # by hand: order same = 1, 0, 1: precisions 1, 1/2, 2/3 at recalls 1/2, 1/2, 1
    # envelope -> 0.5 * 1 + 0.5 * 2/3 = 5/6
    assert jnd_map([1.0, 2.0, 3.0], [1.0, 0.0, 1.0]) == pytest.approx(5 / 6)


def test_jnd_map_matches_the_written_out_definition_and_ignores_tie_order():
    rng = np.random.default_rng(0)
    d = rng.random(200)
    same = rng.integers(0, 4, 200) / 3  # fractions of 3 observers, as in BAPPS JND
    assert jnd_map(d, same) == pytest.approx(brute_force_interpolated_ap(d, same), abs=1e-12)
    # with ties: the score is the same whatever the order of the tied pairs
    d_tied = np.round(d * 5) / 5
    perm = rng.permutation(200)
    assert jnd_map(d_tied, same) == pytest.approx(jnd_map(d_tied[perm], same[perm]), abs=1e-12)
    # all pairs at one distance: a single operating point, precision = mean(same) at recall 1
    assert jnd_map(np.zeros(200), same) == pytest.approx(same.mean())


def test_jnd_and_ap_errors():
    with pytest.raises(ValueError, match="no pair was judged 'same'"):
        jnd_map([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="one entry per example"):
        jnd_map([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="fractions"):
        jnd_map([1.0, 2.0], [1.0, 2.0])
    assert voc_average_precision([0.5, 1.0], [1.0, 0.5]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="non-decreasing"):
        voc_average_precision([1.0, 0.5], [1.0, 0.5])


# ---------------------------------------------------------------------------------------------
# low-level baselines
# ---------------------------------------------------------------------------------------------


def test_l2_and_psnr_known_values():
    black, grey = torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.5)
    assert torch.allclose(l2_distance(black, grey, colorspace="rgb"), torch.full((2,), 0.25, dtype=torch.float64))
    assert torch.allclose(psnr_distance(black, grey), torch.full((2,), -10 * math.log10(4), dtype=torch.float64),
                          atol=1e-5)
    # Lab: black (L=0) vs white (L=100), a = b = 0 -> mean over 3 channels of (1, 0, 0)^2
    white = torch.ones(1, 3, 8, 8)
    assert l2_distance(black[:1], white).item() == pytest.approx(1 / 3, abs=1e-4)
    assert l2_distance(grey, grey).abs().max() == 0


def test_psnr_distance_ranks_like_rgb_l2():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 8, 8, generator=g)
    y = (x + torch.randn(6, 3, 8, 8, generator=g) * torch.linspace(0.01, 0.3, 6).view(6, 1, 1, 1)).clamp(0, 1)
    assert torch.equal(psnr_distance(x, y).argsort(), l2_distance(x, y, colorspace="rgb").argsort())
    assert torch.allclose(psnr_distance(x, y), -psnr(x, y).double())


def test_ssim_distance_properties():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 16, generator=g).repeat(4, 1, 1, 1)
    noise = torch.randn(4, 3, 16, 16, generator=g)
    y = (x + noise * torch.tensor([0.0, 0.05, 0.15, 0.4]).view(4, 1, 1, 1)).clamp(0, 1)
    for cs in ("lab", "rgb"):
        d = ssim_distance(x, y, colorspace=cs)
        assert d[0].item() == pytest.approx(0.0, abs=1e-12)  # identical images: SSIM = 1
        assert bool((d[1:] > d[:-1]).all()), cs  # more noise, less structural similarity
        assert torch.allclose(ssim_distance(y, x, colorspace=cs), d)  # symmetric
    # RGB: the per-channel mean SSIM of scikit-image on H x W x C images with data_range 1
    ref = structural_similarity(x[2].permute(1, 2, 0).double().numpy(), y[2].permute(1, 2, 0).double().numpy(),
                                channel_axis=-1, data_range=1.0)
    assert ssim_distance(x, y, colorspace="rgb")[2].item() == pytest.approx(1 - ref)


def test_distance_function_input_errors():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        l2_distance(x * 2 - 1, x)
    with pytest.raises(ValueError, match="0-255"):
        l2_distance(x * 255, x)
    with pytest.raises(ValueError, match="same shape"):
        l2_distance(x, x[:1])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        l2_distance(x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match="at least 7 x 7"):
        ssim_distance(x[..., :5, :5], x[..., :5, :5])
    with pytest.raises(ValueError, match="'lab' or 'rgb'"):
        ssim_distance(x, x, colorspace="xyz")
    with pytest.raises(TypeError, match="torch.Tensor"):
        psnr_distance(x.numpy(), x)


def test_distance_fn_from_module_maps_the_range_and_restores_the_mode():
    m = TinyLPIPS().train()
    x0, x1 = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    d = distance_fn_from_module(m)(x0, x1)
    m.eval()
    assert torch.allclose(d, m(2 * x0 - 1, 2 * x1 - 1).flatten().double())
    m.train()
    distance_fn_from_module(m)(x0, x1)
    assert m.training  # the caller's mode is restored

    class Broken(nn.Module):
        def forward(self, a, b):
            return torch.zeros(1)

    with pytest.raises(ValueError, match="one distance per image"):
        distance_fn_from_module(Broken())(x0, x1)


# ---------------------------------------------------------------------------------------------
# evaluation on judgment sets
# ---------------------------------------------------------------------------------------------


def test_evaluate_2afc_agrees_with_direct_scoring_and_accepts_several_inputs():
    ref, p0, p1, judge = make_triplets(30, seed=3)
    res = evaluate_2afc(l2_distance, (ref, p0, p1, judge), value_range=(-1, 1), batch_size=7, progress=False)
    u = [(x + 1) / 2 for x in (ref, p0, p1)]
    d0, d1 = l2_distance(u[0], u[1]), l2_distance(u[0], u[2])
    assert res.n == 30
    assert res.score == pytest.approx(two_afc_score(d0, d1, judge))
    assert torch.allclose(res.d0, d0) and torch.allclose(res.d1, d1)
    assert res.human == pytest.approx(1.0) and res.oracle == pytest.approx(1.0)  # unanimous 0/1 judgments
    # the same data as an object with attributes (as reprolib.chapters.lpips.judgments returns) in [0, 1] ...
    obj = SimpleNamespace(ref=u[0], p0=u[1], p1=u[2], judge=judge)
    assert evaluate_2afc(l2_distance, obj, value_range=(0, 1), progress=False).score == pytest.approx(res.score)
    # ... and as a Dataset of tuples
    items = [(ref[i], p0[i], p1[i], judge[i]) for i in range(30)]
    assert evaluate_2afc(l2_distance, items, value_range=(-1, 1), batch_size=4, progress=False).score == \
        pytest.approx(res.score)


def test_evaluate_errors():
    ref, p0, p1, judge = make_triplets(4, seed=0)
    with pytest.raises(ValueError, match="value_range is needed"):
        evaluate_2afc(l2_distance, (ref, p0, p1, judge), progress=False)
    with pytest.raises(ValueError, match=r"value_range must be \(0, 1\) or \(-1, 1\)"):
        evaluate_2afc(l2_distance, (ref, p0, p1, judge), value_range=(0, 255), progress=False)
    with pytest.raises(ValueError, match="declared"):
        evaluate_2afc(l2_distance, (ref, p0, p1, judge), value_range=(0, 1), progress=False)
    with pytest.raises(ValueError, match="judge is None"):
        evaluate_2afc(l2_distance, SimpleNamespace(ref=ref, p0=p0, p1=p1, judge=None), value_range=(-1, 1))
    with pytest.raises(ValueError, match="one entry per example"):
        evaluate_2afc(l2_distance, (ref, p0, p1, judge[:2]), value_range=(-1, 1))
    with pytest.raises(ValueError, match="one distance per pair"):
        evaluate_2afc(lambda a, b: torch.zeros(1), (ref, p0, p1, judge), value_range=(-1, 1), progress=False)


def test_evaluate_jnd_perfect_metric():
    g = torch.Generator().manual_seed(0)
    p0 = torch.rand(10, 3, 8, 8, generator=g)
    amp = torch.tensor([0.0] * 4 + [0.3] * 6).view(10, 1, 1, 1)  # 4 identical pairs, 6 clearly distorted
    p1 = (p0 + amp * torch.randn(10, 3, 8, 8, generator=g)).clamp(0, 1)
    same = (amp.flatten() == 0).float()
    res = evaluate_jnd(l2_distance, (p0, p1, same), value_range=(0, 1), progress=False)
    assert res.score == pytest.approx(1.0) and res.n == 10
    res = evaluate_jnd(lambda a, b: -l2_distance(a, b), (p0, p1, same), value_range=(0, 1), progress=False)
    assert res.score == pytest.approx(0.4)  # a metric that has it backwards gets the base rate


# ---------------------------------------------------------------------------------------------
# the ranking head G and the loss of Eq. 6.2
# ---------------------------------------------------------------------------------------------


def test_ranking_head_features_layout_and_output():
    head = RankingHead()
    f = head.features(torch.tensor([1.0]), torch.tensor([3.0]))
    assert f.shape == (1, 5, 1, 1)
    assert torch.allclose(f.flatten(), torch.tensor([1.0, 3.0, -2.0, 1 / 3.1, 3 / 1.1]))
    # the released rank network's state-dict layout: 5 -> 32 -> 32 -> 1 with biases (1281 parameters)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes == {"model.0.weight": (32, 5, 1, 1), "model.0.bias": (32,), "model.2.weight": (32, 32, 1, 1),
                      "model.2.bias": (32,), "model.4.weight": (1, 32, 1, 1), "model.4.bias": (1,)}
    assert sum(p.numel() for p in head.parameters()) == 1281
    out = head(torch.rand(7, 1, 1, 1), torch.rand(7))
    assert out.shape == (7, 1, 1, 1) and bool(((out > 0) & (out < 1)).all())
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1, 1, 1\)"):
        head(torch.rand(7, 2), torch.rand(7, 2))


def test_ranking_loss_is_bce_against_the_judge_fraction():
    torch.manual_seed(0)
    head = RankingHead()
    d0, d1 = torch.rand(6), torch.rand(6)
    judge = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    g = head(d0, d1).flatten()
    manual = -(judge * g.log() + (1 - judge) * (1 - g).log()).mean()
    assert ranking_loss(head, d0, d1, judge).item() == pytest.approx(manual.item(), rel=1e-6)
    # with a constant output G = 0.5 the loss is log 2 whatever the judgments
    with torch.no_grad():
        head.model[4].weight.zero_()
        head.model[4].bias.zero_()
    assert ranking_loss(head, d0, d1, judge).item() == pytest.approx(math.log(2), rel=1e-6)


def test_lr_schedule_is_the_reference_one():
    assert lr_schedule(1.0, 5, 5) == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert lr_schedule(2.0, 1, 0) == [2.0]


# ---------------------------------------------------------------------------------------------
# training: lin / tune / scratch
# ---------------------------------------------------------------------------------------------


def test_lin_training_finds_the_informative_layer():
    module = TinyLPIPS()
    before = lin_weights(module)
    train, held_out = make_triplets(400, seed=1), make_triplets(400, seed=2)
    start = evaluate_2afc(distance_fn_from_module(module), held_out, value_range=(-1, 1), progress=False).score
    trained, hist = train_lin(module, train, epochs=6, decay_epochs=4, lr=1e-2, seed=0, device="cpu",
                              progress=False, value_range=(-1, 1))
    w0, w1 = lin_weights(trained)
    assert w1.sum() < 0.1 * w0.sum()  # the layer that only sees the irrelevant channel is switched off
    end = evaluate_2afc(distance_fn_from_module(trained), held_out, value_range=(-1, 1), progress=False).score
    assert end > 0.85 and end > start + 0.15
    assert hist["lr"] == pytest.approx(lr_schedule(1e-2, 6, 4))
    assert hist["epoch"] == list(range(1, 11)) and hist["steps_per_epoch"] == 8
    assert hist["loss"][-1] < 0.7 * hist["loss"][0]
    assert hist["agreement"][-1] > 0.85
    assert isinstance(hist["head"], RankingHead) and not hist["head"].training
    assert not trained.training
    for a, b in zip(before, lin_weights(module)):  # the caller's module is untouched
        assert torch.equal(a, b)


def test_training_is_deterministic_and_the_dataset_path_matches_tensors():
    data = make_triplets(120, seed=4)
    kw = dict(epochs=2, decay_epochs=1, batch_size=40, lr=1e-2, device="cpu", progress=False, value_range=(-1, 1))
    a, ha = train_lin(TinyLPIPS(), data, seed=5, **kw)
    b, hb = train_lin(TinyLPIPS(), data, seed=5, **kw)
    items = [tuple(t[i] for t in data) for i in range(120)]
    c, hc = train_lin(TinyLPIPS(), items, seed=5, **kw)
    d, _ = train_lin(TinyLPIPS(), data, seed=6, **kw)
    for x, y, z in zip(lin_weights(a), lin_weights(b), lin_weights(c)):
        assert torch.equal(x, y) and torch.equal(x, z)
    assert ha["loss"] == hb["loss"] == hc["loss"]
    assert any(not torch.equal(x, y) for x, y in zip(lin_weights(a), lin_weights(d)))


def test_weights_are_nonnegative_at_every_step():
    module = TinyLPIPS()
    with torch.no_grad():
        for lin in module.lins:
            lin[1].weight.copy_(torch.linspace(-1, 1, 4).view(1, 4, 1, 1))  # half of them negative
    seen = []
    for lin in module.lins:  # record the weights every forward pass uses (hooks survive the deep copy)
        lin[1].register_forward_pre_hook(lambda conv, inp: seen.append(float(conv.weight.detach().min())))
    data = make_triplets(60, seed=7)
    trained, hist = train_lin(module, data, epochs=2, decay_epochs=0, batch_size=20, lr=0.05, reset_lins=False,
                              device="cpu", progress=False, value_range=(-1, 1))
    steps = 2 * 3
    assert len(seen) == steps * 2 * 2  # every step: d0 and d1, two layers each
    assert min(seen) >= 0.0
    assert all(bool((w >= 0).all()) for w in lin_weights(trained))
    assert float(module.lins[0][1].weight.detach().min()) == -1.0  # the original still has its negative weights


def test_modes_choose_what_is_trained():
    data = make_triplets(60, seed=8)
    module = TinyLPIPS()
    trunk0 = [p.detach().clone() for p in module.trunk.parameters()]
    kw = dict(epochs=1, decay_epochs=0, batch_size=30, lr=1e-2, device="cpu", progress=False, value_range=(-1, 1))
    lin, _ = train_lin(module, data, mode="lin", **kw)
    tune, _ = train_lin(module, data, mode="tune", **kw)
    scratch, _ = train_lin(module, data, mode="scratch", **kw)
    for p, q in zip(trunk0, lin.trunk.parameters()):
        assert torch.equal(p, q)
    changed = [not torch.equal(p, q) for p, q in zip(trunk0, tune.trunk.parameters())]
    assert all(changed)
    # tune moves a little from the start (2 steps of 1e-2); scratch starts from a fresh initialisation
    w_start, w_tune, w_scratch = trunk0[0], tune.trunk[0].weight, scratch.trunk[0].weight
    assert (w_tune - w_start).abs().max() < 0.05
    assert (w_scratch - w_start).abs().max() > 0.1
    assert all(p.requires_grad for p in scratch.parameters())  # the flags the module came with


def test_train_lin_errors():
    data = make_triplets(10, seed=0)
    with pytest.raises(ValueError, match="mode must be one of lin, tune, scratch"):
        train_lin(TinyLPIPS(), data, mode="finetune")
    with pytest.raises(TypeError, match="lacks lins"):
        train_lin(nn.Conv2d(3, 3, 1), data)
    with pytest.raises(ValueError, match="at least 1"):
        train_lin(TinyLPIPS(), data, epochs=0, decay_epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_lin(TinyLPIPS(), data, batch_size=0)
    with pytest.raises(ValueError, match="beta1"):
        train_lin(TinyLPIPS(), data, beta1=1.0)
    ref, p0, p1, judge = data
    with pytest.raises(ValueError, match="fraction of observers"):
        train_lin(TinyLPIPS(), (ref, p0, p1, judge * 2), epochs=1, decay_epochs=0, device="cpu", progress=False,
                  value_range=(-1, 1))
    with pytest.raises(ValueError, match="value_range is needed"):
        train_lin(TinyLPIPS(), data)
    with pytest.raises(ValueError, match="judge is None"):
        train_lin(TinyLPIPS(), SimpleNamespace(ref=ref, p0=p0, p1=p1, judge=None))


def test_weighted_distance_is_eq_6_1():
    m = TinyLPIPS().eval()
    with torch.no_grad():
        m.lins[0][1].weight.copy_(torch.tensor([1.0, 0.0, 2.0, 0.5]).view(1, 4, 1, 1))
    x0, x1 = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    dists = m.layer_distances(x0, x1)
    w = [torch.tensor([1.0, 0.0, 2.0, 0.5]), torch.ones(4)]
    manual = sum((dk * wk.view(1, 4, 1, 1)).sum(1).mean((1, 2)) for dk, wk in zip(dists, w))
    assert torch.allclose(weighted_distance(m, x0, x1).flatten(), manual, atol=1e-6)
    assert torch.allclose(weighted_distance(m, x0, x1), m(x0, x1))


class NetLin(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))


class NetStyleLPIPS(nn.Module):
    """The other accepted layout (that of reprolib.metrics.lpips.LPIPS): trunk at ``.net``, ``lins`` a plain list of
    modules with ``.model = Sequential(Dropout, Conv)``, a ``normalize`` argument that refuses all-non-negative
    input when it is not given, and a ``train()`` that keeps the Dropout off."""

    def __init__(self):
        super().__init__()
        base = TinyLPIPS()
        self.net = base.trunk
        self.lin0, self.lin1 = NetLin(4), NetLin(4)
        with torch.no_grad():
            self.lin0.model[1].weight.fill_(1.0)
            self.lin1.model[1].weight.fill_(1.0)
        self._base = [base]  # borrow its layer_distances (a list, so it is not a submodule)

    @property
    def lins(self):
        return [self.lin0, self.lin1]

    def train(self, mode=True):
        super().train(mode)
        self.net.eval()
        for lin in self.lins:
            lin.model[0].eval()
        return self

    def layer_distances(self, x0, x1, normalize=None):
        if normalize is None and min(float(x0.min()), float(x1.min())) >= 0:
            raise ValueError("ambiguous range: pass normalize")
        base = self._base[0]
        base.trunk = self.net  # the (possibly trained) copy's own trunk
        return base.layer_distances(x0, x1)

    def forward(self, x0, x1, normalize=None):
        d = self.layer_distances(x0, x1, normalize)
        return sum(lin.model(dk).mean((2, 3), keepdim=True) for lin, dk in zip(self.lins, d))

    def project_nonnegative_(self):
        with torch.no_grad():
            for lin in self.lins:
                lin.model[1].weight.clamp_(min=0)


def test_other_module_layout_and_dropout_while_training():
    ref, p0, p1, judge = make_triplets(80, seed=9)
    bright = [x.abs() for x in (ref, p0, p1)]  # valid [-1, 1] data without a negative value
    module = NetStyleLPIPS()
    inputs = []
    module.lin0.model[1].register_forward_pre_hook(lambda conv, inp: inputs.append(inp[0].detach().clone()))
    trained, hist = train_lin(module, (*bright, judge), mode="tune", epochs=2, decay_epochs=0, batch_size=40,
                              lr=1e-2, device="cpu", progress=False, value_range=(-1, 1))
    # the Dropout (p = 0.5) is applied in training even though the module keeps its own Dropout off
    zeros = torch.cat([x.flatten() for x in inputs]).eq(0).double().mean().item()
    assert 0.45 < zeros < 0.55
    assert not torch.equal(trained.net[0].weight, module.net[0].weight)  # "tune" found the trunk at .net
    assert all(bool((lin.model[1].weight >= 0).all()) for lin in trained.lins)
    # evaluation passes normalize=False (the data are known to be in [-1, 1]) and has no dropout
    inputs.clear()  # (the hook was deep-copied with the module, so it also sees the trained copy)
    res = evaluate_2afc(distance_fn_from_module(trained), (*bright, judge), value_range=(-1, 1), progress=False)
    assert res.n == 80 and 0 <= res.score <= 1
    assert len(inputs) == 4  # 2 batches of 50 + 30, d0 and d1
    assert torch.cat([x.flatten() for x in inputs]).eq(0).double().mean() < 0.01


def test_tune_needs_gradients_through_the_trunk():
    class NoGrad(TinyLPIPS):
        def layer_distances(self, x0, x1):
            with torch.no_grad():
                return super().layer_distances(x0, x1)

    data = make_triplets(10, seed=0)
    with pytest.raises(ValueError, match="without gradient"):
        train_lin(NoGrad(), data, mode="tune", epochs=1, decay_epochs=0, device="cpu", progress=False,
                  value_range=(-1, 1))
