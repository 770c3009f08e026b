"""The linear-probe evaluator on cases whose answer is known in advance."""

import math

import pytest
import torch

from reprolib.metrics.probe import (LinearProbe, accuracy_interval, bayes_rate, extract_features, probe_features,
                                    probe_size)

ALEXNET_CHANNELS = (96, 256, 384, 384, 256)  # conv1 .. conv5


def test_probe_size_gives_table_5_3_for_alexnet_at_9000_features():
    sides = [probe_size(c, 9000) for c in ALEXNET_CHANNELS]
    assert sides == [10, 6, 5, 5, 6]  # thesis Table 5.3
    assert [c * s * s for c, s in zip(ALEXNET_CHANNELS, sides)] == [9600, 9216, 9600, 9600, 9216]
    assert probe_size(4096, 1024) == 1  # never below one position
    with pytest.raises(ValueError, match="channels"):
        probe_size(0, 9000)


def test_probe_features_resize_bilinearly_and_keep_a_constant_map_constant():
    fmap = torch.full((2, 3, 12, 12), 0.25)
    f = probe_features(fmap, budget=27)  # 3 channels, 27 features: 3 x 3
    assert f.shape == (2, 27) and f.dtype == torch.float64
    torch.testing.assert_close(f, torch.full((2, 27), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        probe_features(torch.zeros(3, 4), 10)


def _clusters(n_per_class, k, dim, spread, seed):
    g = torch.Generator().manual_seed(seed)
    centres = 10.0 * torch.eye(k, dim, dtype=torch.float64)
    y = torch.arange(k).repeat_interleave(n_per_class)
    x = centres[y] + spread * torch.randn(len(y), dim, generator=g, dtype=torch.float64)
    return x, y


def test_separable_classes_are_read_perfectly():
    x, y = _clusters(50, 4, 6, 0.5, seed=0)
    xt, yt = _clusters(50, 4, 6, 0.5, seed=1)
    probe = LinearProbe(4).fit(x, y)
    assert probe.score(xt, yt) == 1.0
    p = probe.predict_proba(xt)
    torch.testing.assert_close(p.sum(1), torch.ones(len(xt), dtype=torch.float64))


def test_labels_independent_of_the_features_give_chance():
    g = torch.Generator().manual_seed(2)
    x, xt = torch.randn(400, 20, generator=g), torch.randn(4000, 20, generator=g)
    y, yt = torch.randint(0, 4, (400,), generator=g), torch.randint(0, 4, (4000,), generator=g)
    acc = LinearProbe(4).fit(x, y).score(xt, yt)
    assert abs(acc - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4000)  # 4 standard errors of a proportion


def test_overlapping_gaussians_reach_the_bayes_accuracy():
    # one feature, N(-1, 1) vs N(+1, 1), equal priors: the best rule is the sign, with accuracy Phi(1)
    g = torch.Generator().manual_seed(3)

    def draw(n):
        y = torch.randint(0, 2, (n,), generator=g)
        return (2.0 * y - 1).double()[:, None] + torch.randn(n, 1, generator=g, dtype=torch.float64), y

    (x, y), (xt, yt) = draw(4000), draw(20000)
    acc = LinearProbe(2, l2=0.0).fit(x, y).score(xt, yt)
    phi1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    assert abs(acc - phi1) < 4 * math.sqrt(phi1 * (1 - phi1) / 20000) + 0.005  # sampling, plus a fitted threshold


def test_fit_ends_at_a_stationary_point_and_ignores_the_feature_scale():
    x, y = _clusters(30, 3, 5, 3.0, seed=4)  # overlapping: a finite optimum
    probe = LinearProbe(3, l2=1e-2, iterations=200).fit(x, y)
    w, b = probe.weight.clone().requires_grad_(), probe.bias.clone().requires_grad_()
    z = (x - probe.mean) / probe.std
    probe.objective(z, y, w, b).backward()
    assert float(torch.cat([w.grad.flatten(), b.grad]).abs().max()) < 1e-5
    scaled = LinearProbe(3, l2=1e-2, iterations=200).fit(x * 1000 + 7, y)  # standardisation undoes it
    torch.testing.assert_close(scaled.weight, probe.weight, rtol=1e-4, atol=1e-6)


def test_constant_features_do_not_break_the_probe():
    x, y = _clusters(20, 2, 3, 0.5, seed=5)
    x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)  # a dead unit (e.g. a ReLU never on)
    assert LinearProbe(2).fit(x, y).score(x, y) == 1.0


def test_extract_features_uses_eval_mode_and_restores_training():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = torch.nn.Dropout(0.9)

        def features(self, x):
            return {"a": self.drop(x), "b": x[:, :1]}

    net = Net().train()
    batches = [torch.ones(2, 4, 6, 6), torch.ones(3, 4, 6, 6)]
    out = extract_features(net.features, batches, ["a", "b"], budget=36)
    assert out["a"].shape == (5, 36) and out["b"].shape == (5, 36)
    torch.testing.assert_close(out["a"], torch.ones(5, 36, dtype=torch.float64))  # no dropout in eval mode
    assert net.training
    with pytest.raises(KeyError, match="no layer"):
        extract_features(net.features, batches, ["c"], budget=36)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="num_classes"):
        LinearProbe(1)
    probe = LinearProbe(3)
    with pytest.raises(RuntimeError, match="not fitted"):
        probe.predict(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        probe.fit(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"\(N,\) integers"):
        probe.fit(torch.zeros(4, 2), torch.zeros(4))
    probe.fit(torch.randn(6, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 0, 1, 2]))
    with pytest.raises(ValueError, match="fitted on 2 features"):
        probe.correct(torch.zeros(3, 5), torch.zeros(3, dtype=torch.long))


def test_bayes_rate_and_accuracy_interval():
    # a colour mode read from a grey image: the best guess is each class's likeliest mode
    probs = {"apple": (0.5, 0.3, 0.2), "fish": (0.7, 0.3)}
    assert bayes_rate(probs, {"apple": 10, "fish": 30}) == pytest.approx((10 * 0.5 + 30 * 0.7) / 40)
    with pytest.raises(KeyError, match="car"):
        bayes_rate(probs, {"car": 3})
    acc, low, high = accuracy_interval([1.0] * 30 + [0.0] * 10)
    assert acc == 0.75 and low < 0.75 < high and high - low < 0.35
    assert accuracy_interval([1.0, 1.0]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="0/1"):
        accuracy_interval([0.5])


def test_closed_form_gradient_is_autograds():
    """The fit's gradient (closed form) against autograd's on the objective, at a random point: float64 sums of a
    few thousand terms of size about 1, so they agree to about 1e-13; 1e-10 leaves room for any summation order."""
    x, y = _clusters(40, 4, 6, 1.0, seed=7)
    probe = LinearProbe(4, l2=0.05)
    g = torch.Generator().manual_seed(3)
    w = torch.randn(x.shape[1], 4, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(4, generator=g, dtype=torch.float64).requires_grad_()
    loss, gw, gb = probe.gradient(x, y, w.detach(), b.detach())
    reference = probe.objective(x, y, w, b)
    reference.backward()
    torch.testing.assert_close(loss, reference.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(gw, w.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gb, b.grad, rtol=1e-10, atol=1e-12)
