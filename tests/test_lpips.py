"""LPIPS: the published example figures, the metric's properties, the linear layers, input checks.

The tests that use the official weights need the setup's converted files (``make setup``); when they are
missing, building ``LPIPS()`` raises ``WeightsError`` naming that command and these tests fail.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from reprolib.metrics import lpips as lp
from reprolib.metrics.lpips import LPIPS, lpips_distance, zero_weight_fractions
from reprolib.nn.lin import LinLayers
from reprolib.nn import pretrained
from reprolib.weights import WeightsError

FIXTURES = Path(__file__).parent / "fixtures" / "lpips"


def load_patch(name: str) -> torch.Tensor:
    """A fixture PNG as (1, 3, H, W) in [-1, 1]: RGB uint8 -> x / 127.5 - 1 (reference-facts sec. 5.4)."""
    rgb = np.asarray(Image.open(FIXTURES / f"{name}.png").convert("RGB"))
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


@pytest.fixture(scope="module")
def triplet():
    return load_patch("ex_ref"), load_patch("ex_p0"), load_patch("ex_p1")


@pytest.fixture(scope="module")
def alex():
    return LPIPS("alex")


@pytest.fixture(scope="module")
def vgg():
    return LPIPS("vgg")


def rand_images(n=2, h=40, w=36, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g) * 2 - 1, torch.rand(n, 3, h, w, generator=g) * 2 - 1


# ----------------------------------------------------------------------------- published figures


def test_fixture_files_and_licence():
    assert (FIXTURES / "LICENSE-PerceptualSimilarity.txt").read_text().count("Redistribution") >= 1
    for name in ("ex_ref", "ex_p0", "ex_p1"):
        assert load_patch(name).shape == (1, 3, 64, 64)


def test_alex_v01_example_distances(alex, triplet):
    ref, p0, p1 = triplet
    d = [alex(ref, p).item() for p in (p0, p1)]
    # PerceptualSimilarity's test_network.py reports the mean of the spatial map: "(0.722, 0.138)".
    d_map = [alex(ref, p, spatial=True).mean().item() for p in (p0, p1)]
    assert [round(v, 3) for v in d] == [0.722, 0.138]
    assert [round(v, 3) for v in d_map] == [0.722, 0.138]
    # AlexNet's maps (15, 7, 3 px for 64 px input) are upsampled by non-integer factors; bilinear resampling
    # then does not preserve the mean exactly, but nearly.
    assert d_map == pytest.approx(d, rel=1e-3)


def test_vgg_v01_example_distances(vgg, triplet):
    ref, p0, p1 = triplet
    d = [vgg(ref, p).item() for p in (p0, p1)]
    assert [round(v, 3) for v in d] == [0.569, 0.422]
    # VGG's maps (64, 32, 16, 8, 4 px) are upsampled by integer factors: the mean is preserved.
    assert [vgg(ref, p, spatial=True).mean().item() for p in (p0, p1)] == pytest.approx(d, rel=1e-5)


def test_spatial_map_shape(alex, triplet):
    ref, p0, _ = triplet
    m = alex(ref.expand(2, -1, -1, -1), torch.cat([p0, ref]), spatial=True)
    assert m.shape == (2, 1, 64, 64) and (m >= 0).all()
    assert m[1].abs().max().item() == 0  # identical images: zero everywhere


# ----------------------------------------------------------------------------- linear layers


def test_lin_layer_sizes_and_keys(alex, vgg):
    assert sum(lin.weight.numel() for lin in alex.lins) == 1152  # paper sec. 6.3: 1472 for VGG
    assert sum(lin.weight.numel() for lin in vgg.lins) == 1472
    assert sum(LinLayers((64, 128, 256, 384, 384, 512, 512)).state_dict()[k].numel()
               for k in LinLayers((64, 128, 256, 384, 384, 512, 512)).state_dict()) == 2240
    keys = [k for k in alex.state_dict() if k.startswith("lin")]
    assert keys == [f"lin{k}.model.1.weight" for k in range(5)]
    assert isinstance(alex.lin0.model[0], torch.nn.Dropout)


def test_official_lin_weights_are_loaded(alex):
    # Guards against the silent no-load: the module holds exactly the file's weights (sums in
    # reference-facts sec. 5.2), all non-negative.
    sums = [lin.weight.sum().item() for lin in alex.lins]
    assert sums == pytest.approx([2.3495, 16.1430, 39.2684, 27.1972, 20.3172], abs=2e-4)
    file = pretrained.lin_state_dict("alex", "0.1")
    assert all(torch.equal(alex.lin_state_dict()[k], v) for k, v in file.items())


def test_renamed_lin_key_raises(alex):
    sd = alex.lin_state_dict()
    sd["lin3.model.0.weight"] = sd.pop("lin3.model.1.weight")  # what a Dropout-less layer would save
    msg = r"missing keys \(1\): lin3.model.1.weight.*unexpected keys \(1\): lin3.model.0.weight"
    with pytest.raises(WeightsError, match=msg):
        alex.load_lin_state_dict(sd, source="test")
    sd = alex.lin_state_dict()
    sd["lin0.model.1.weight"] = torch.zeros(1, 63, 1, 1)
    with pytest.raises(WeightsError, match=r"shape mismatches"):
        alex.load_lin_state_dict(sd)


def test_zero_weight_fractions_and_projection():
    lins = LinLayers((4, 8))
    with torch.no_grad():
        lins.lin0.weight.copy_(torch.tensor([0.0, 1.0, 0.0, 2.0]).view(1, 4, 1, 1))
        lins.lin1.weight.copy_(torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1]).view(1, 8, 1, 1))
    assert zero_weight_fractions(lins) == [0.5, 0.125]
    with torch.no_grad():
        lins.lin1.weight[0, 1:4] = 1e-4  # zero in effect, not exactly
    assert zero_weight_fractions(lins) == [0.5, 0.125]
    assert zero_weight_fractions(lins, threshold=1e-3) == [0.5, 0.5]
    with pytest.raises(ValueError, match="threshold must be a number >= 0"):
        zero_weight_fractions(lins, threshold=-1)

    m = LPIPS("alex", pretrained=False)
    with torch.no_grad():
        m.lin0.weight.copy_(torch.linspace(-1, 1, 64).view(1, 64, 1, 1))  # 32 negative, 32 positive
        m.lin4.weight.fill_(-0.5)
    before = m.lin0.weight.clone()
    assert m.project_nonnegative_() is m
    assert torch.equal(m.lin0.weight[before > 0], before[before > 0])
    assert zero_weight_fractions(m) == [0.5, 0.0, 0.0, 0.0, 1.0]
    with pytest.raises(TypeError, match="LPIPS or LinLayers"):
        zero_weight_fractions(torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="no linear layers"):
        LPIPS("alex", lpips=False, pretrained=False).project_nonnegative_()


# ----------------------------------------------------------------------------- properties of the metric


def test_basic_properties(alex):
    x0, x1 = rand_images(3)
    d = alex(x0, x1)
    assert d.shape == (3, 1, 1, 1) and (d > 0).all()
    assert alex(x0, x0).abs().max().item() == 0
    assert torch.allclose(alex(x1, x0), d, rtol=1e-5)
    one_by_one = torch.cat([alex(x0[i : i + 1], x1[i : i + 1]) for i in range(3)])
    assert torch.allclose(one_by_one, d, rtol=1e-5)


def test_layer_distances_and_aggregate(alex):
    x0, x1 = rand_images(2, 64, 48)
    dists = alex.layer_distances(x0, x1)
    assert [tuple(t.shape) for t in dists] == [
        (2, 64, 15, 11), (2, 192, 7, 5), (2, 384, 3, 2), (2, 256, 3, 2), (2, 256, 3, 2)
    ]
    assert all((t >= 0).all() and (t <= 4).all() for t in dists)
    assert torch.equal(alex.aggregate(dists, (64, 48)), alex(x0, x1))
    with pytest.raises(ValueError, match="expected 5 layer distances"):
        alex.aggregate(dists[:4])


def test_baseline_is_cosine_distance(alex):
    # lpips=False: per layer, the channel sum of (y0_hat - y1_hat)^2 = 2 - 2 cos(y0, y1), averaged over space
    # (thesis sec. 6.3: "using w_l = 1 for all l is equivalent to computing cosine distance").
    base = LPIPS("alex", lpips=False)
    x0, x1 = rand_images(2, 48, 48, seed=3)
    with torch.no_grad():
        f0 = base.net(base.scaling_layer(x0))
        f1 = base.net(base.scaling_layer(x1))
        expected = sum((2 - 2 * F.cosine_similarity(a, b, dim=1)).mean(dim=(1, 2)) for a, b in zip(f0, f1))
        got = base(x0, x1).flatten()
    assert torch.allclose(got, expected, rtol=1e-4)
    # An LPIPS module whose linear weights are all 1 (the untrained start) equals the baseline.
    ones = LPIPS("alex", pretrained=False, trunk_weights="imagenet")
    assert all((lin.weight == 1).all() for lin in ones.lins)
    assert torch.allclose(ones(x0, x1).flatten(), got, rtol=1e-5)


def test_version_00_has_no_scaling_layer(triplet):
    ref, p0, p1 = triplet
    v0 = LPIPS("alex", version="0.0")
    assert v0.scaling_layer is None
    assert [lin.weight.sum().item() for lin in v0.lins] == pytest.approx(
        [2.5659, 10.2574, 22.4343, 16.3139, 13.9345], abs=2e-4
    )
    d0, d1 = v0(ref, p0).item(), v0(ref, p1).item()
    assert 0 < d1 < d0  # the same ranking as v0.1 (p1 is the closer patch), with other values
    assert round(d0, 3) != 0.722


def test_train_mode_is_deterministic_and_trains_only_the_lins(alex):
    m = LPIPS("alex")
    x0, x1 = rand_images(2)
    ref = m(x0, x1)
    m.train()
    assert m.training and not m.net.training and not m.lin0.model[0].training
    out = [m(x0, x1) for _ in range(3)]
    assert all(torch.equal(o, ref) for o in out)
    out[0].sum().backward()
    assert all(p.grad is None for p in m.net.parameters())
    assert all(lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0 for lin in m.lins)


def test_trunk_weights_options(triplet):
    ref, p0, _ = triplet
    state = pretrained.trunk_state_dict("alex")
    m = LPIPS("alex", trunk_weights=state)
    assert round(m(ref, p0).item(), 3) == 0.722
    with pytest.raises(TypeError, match="trunk_weights must be"):
        LPIPS("alex", trunk_weights=3)
    bad = dict(state)
    bad["features.0.weight"] = bad["features.0.weight"][:, :, :5, :5]
    with pytest.raises(WeightsError, match="shape mismatches"):
        LPIPS("alex", trunk_weights=bad)


def test_squeeze(triplet):
    with pytest.raises(WeightsError, match="no offline ImageNet weights exist for 'squeeze'"):
        LPIPS("squeeze")
    a, b = LPIPS("squeeze", pretrained=False, seed=1), LPIPS("squeeze", pretrained=False, seed=1)
    ref, p0, _ = triplet
    assert torch.equal(a(ref, p0), b(ref, p0))
    assert len(a.lins) == 7 and sum(lin.weight.numel() for lin in a.lins) == 2240
    # Official squeeze lin weights on a random trunk: loadable, but it is not the published metric.
    c = LPIPS("squeeze", pretrained=True, trunk_weights="random")
    assert [lin.weight.sum().item() for lin in c.lins] == pytest.approx(
        [5.6901, 1.1853, 16.3266, 71.0126, 37.3707, 24.2629, 17.5906], abs=2e-4
    )


def test_constructor_errors():
    with pytest.raises(ValueError, match="net must be one of alex, vgg, squeeze"):
        LPIPS("resnet")
    with pytest.raises(ValueError, match="version must be one of"):
        LPIPS("alex", version="0.2")
    with pytest.raises(TypeError, match="spatial must be a bool"):
        LPIPS("alex", spatial="yes")


# ----------------------------------------------------------------------------- input checks


def test_input_range_checks(alex):
    x0, x1 = rand_images(1, 32, 32)
    eight_bit = r"x1 has values in \[0.\d+, 25\d.*\]; LPIPS expects RGB in \[-1, 1\]. .*\[0, 255\].*x / 127.5 - 1"
    with pytest.raises(ValueError, match=eight_bit):
        alex(x0, (x1 + 1) * 127.5)
    with pytest.raises(ValueError, match=r"every value of x0 is in \[0, 1\].*normalize=True"):
        alex((x0 + 1) / 2, x1)
    with pytest.raises(ValueError, match=r"x1 has values in \[-2.9\d*, 2.9\d*\]; LPIPS expects RGB in \[-1, 1\]\.$"):
        alex(x0, x1 * 3)
    with pytest.raises(ValueError, match=r"x0 has values in \[-0.9\d*, 0.9\d*\]; .* in \[0, 1\] \(normalize=True\)"):
        alex(x0, x1, normalize=True)
    a, b = (x0 + 1) / 2, (x1 + 1) / 2
    assert torch.equal(alex(a, b, normalize=True), alex(2 * a - 1, 2 * b - 1))
    bright = x0.abs()  # a [-1, 1] image without negative values: allowed when said so
    assert alex(bright, x1, normalize=False).item() > 0
    with pytest.raises(TypeError, match="floating-point.*uint8"):
        alex(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), x1)
    with pytest.raises(ValueError, match=r"RGB with shape \(N, 3, H, W\)"):
        alex(x0[:, :1], x1)
    with pytest.raises(ValueError, match="same shape"):
        alex(x0, torch.cat([x1, x1]))
    with pytest.raises(ValueError, match="at least 31 x 31"):
        alex(x0[..., :30], x1[..., :30])
    with pytest.raises(ValueError, match="non-finite"):
        alex(x0.masked_fill(x0 > 0.9, float("nan")), x1)
    with pytest.raises(TypeError, match="normalize must be"):
        alex(x0, x1, normalize="yes")


def test_lpips_distance_helper(alex, triplet):
    ref, p0, p1 = triplet
    d = lpips_distance(ref.expand(2, -1, -1, -1), torch.cat([p0, p1]))
    assert d.shape == (2,) and not d.requires_grad
    assert torch.allclose(d, torch.cat([alex(ref, p0), alex(ref, p1)]).flatten(), rtol=1e-5)
    cached = lp._CACHE[("alex", "0.1", True, ref.device)]
    lpips_distance(ref, p0)
    assert lp._CACHE[("alex", "0.1", True, ref.device)] is cached
    assert lpips_distance(ref, p0, spatial=True).shape == (1, 1, 64, 64)
