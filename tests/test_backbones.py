"""The ImageNet trunks: torchvision's state-dict layout, the LPIPS taps, shapes and errors (no weights needed)."""

import pytest
import torch
from torch import nn

from reprolib.nn import backbones
from reprolib.nn.backbones import (
    AlexNetFeatures,
    SqueezeNet11Features,
    VGG16Features,
    build_backbone,
    imagenet_normalize,
)
from reprolib.nn.pretrained import load_trunk
from reprolib.weights import WeightsError

# torchvision's `features` layouts, written out independently of the code under test:
# index -> (out, in, k) for convs; Fire index -> (in, squeeze, expand1x1, expand3x3).
ALEX_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
VGG_CONVS = {
    0: (64, 3, 3), 2: (64, 64, 3), 5: (128, 64, 3), 7: (128, 128, 3), 10: (256, 128, 3), 12: (256, 256, 3),
    14: (256, 256, 3), 17: (512, 256, 3), 19: (512, 512, 3), 21: (512, 512, 3), 24: (512, 512, 3),
    26: (512, 512, 3), 28: (512, 512, 3),
}
SQUEEZE_FIRES = {
    3: (64, 16, 64, 64), 4: (128, 16, 64, 64), 6: (128, 32, 128, 128), 7: (256, 32, 128, 128),
    9: (256, 48, 192, 192), 10: (384, 48, 192, 192), 11: (384, 64, 256, 256), 12: (512, 64, 256, 256),
}


def conv_keys(convs):
    out = {}
    for i, (o, c, k) in convs.items():
        out[f"features.{i}.weight"] = (o, c, k, k)
        out[f"features.{i}.bias"] = (o,)
    return out


def squeeze_keys():
    out = {"features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,)}
    for i, (cin, s, e1, e3) in SQUEEZE_FIRES.items():
        out[f"features.{i}.squeeze.weight"] = (s, cin, 1, 1)
        out[f"features.{i}.squeeze.bias"] = (s,)
        out[f"features.{i}.expand1x1.weight"] = (e1, s, 1, 1)
        out[f"features.{i}.expand1x1.bias"] = (e1,)
        out[f"features.{i}.expand3x3.weight"] = (e3, s, 3, 3)
        out[f"features.{i}.expand3x3.bias"] = (e3,)
    return out


LAYOUTS = {"alex": conv_keys(ALEX_CONVS), "vgg": conv_keys(VGG_CONVS), "squeeze": squeeze_keys()}
# Parameter counts of torchvision's `features` (AlexNet 61,100,840 minus its 58,631,144-parameter classifier;
# SqueezeNet 1.1 1,235,496 minus its 513,000-parameter final conv).
PARAMS = {"alex": 2_469_696, "vgg": 14_714_688, "squeeze": 722_496}
# Tap shapes (C, h, w) for a 64 x 64 input, from the conv/pool arithmetic by hand.
TAPS_64 = {
    "alex": [(64, 15, 15), (192, 7, 7), (384, 3, 3), (256, 3, 3), (256, 3, 3)],
    "vgg": [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)],
    "squeeze": [(64, 31, 31), (128, 15, 15), (256, 7, 7), (384, 3, 3), (384, 3, 3), (512, 3, 3), (512, 3, 3)],
}
SLICES = {
    "alex": [(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)],
    "vgg": [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)],
    "squeeze": [(0, 2), (2, 5), (5, 8), (8, 10), (10, 11), (11, 12), (12, 13)],
}


@pytest.fixture(scope="module")
def nets():
    return {name: build_backbone(name, seed=0) for name in ("alex", "vgg", "squeeze")}


@pytest.mark.parametrize("name", ["alex", "vgg", "squeeze"])
def test_state_dict_layout_is_torchvisions(nets, name):
    got = {k: tuple(v.shape) for k, v in nets[name].state_dict().items()}
    assert got == LAYOUTS[name]
    assert sum(p.numel() for p in nets[name].parameters()) == PARAMS[name]


def test_layer_hyperparameters(nets):
    assert isinstance(nets["alex"], AlexNetFeatures) and isinstance(nets["vgg"], VGG16Features)
    alex = nets["alex"].features
    assert (alex[0].stride, alex[0].padding) == ((4, 4), (2, 2))
    assert (alex[3].padding, alex[6].padding) == ((2, 2), (1, 1))
    assert [type(alex[i]) for i in (2, 5, 12)] == [nn.MaxPool2d] * 3
    assert (alex[2].kernel_size, alex[2].stride, alex[2].ceil_mode) == (3, 2, False)
    vgg = nets["vgg"].features
    assert len(vgg) == 31
    assert [i for i, m in enumerate(vgg) if isinstance(m, nn.MaxPool2d)] == [4, 9, 16, 23, 30]
    assert all(vgg[i].padding == (1, 1) for i in VGG_CONVS)
    assert isinstance(nets["squeeze"], SqueezeNet11Features)
    sq = nets["squeeze"].features
    assert (sq[0].stride, sq[0].padding) == ((2, 2), (0, 0))
    assert all(sq[i].ceil_mode and sq[i].kernel_size == 3 and sq[i].stride == 2 for i in (2, 5, 8))
    assert sq[3].expand3x3.padding == (1, 1)


@pytest.mark.parametrize("name", ["alex", "vgg", "squeeze"])
def test_taps_shapes_channels_and_slices(nets, name):
    net = nets[name]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        taps = net(x)
        assert [tuple(t.shape[1:]) for t in taps] == TAPS_64[name]
        assert list(net.channels) == [c for c, _, _ in TAPS_64[name]]
        # Each tap equals the output of torchvision's slice, run slice by slice: later layers (ReLUs
        # included) did not modify a tap after it was taken.
        h = x
        for tap, (a, b) in zip(taps, SLICES[name]):
            h = net.features[a:b](h)
            assert torch.equal(tap, h)
            assert (tap >= 0).all()  # every tap is a ReLU output
    assert not any(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))


@pytest.mark.parametrize("name, size", [("alex", 31), ("vgg", 16), ("squeeze", 17)])
def test_smallest_input(nets, name, size):
    net = nets[name]
    assert net.min_size == size
    with torch.no_grad():
        assert min(min(t.shape[2:]) for t in net(torch.zeros(1, 3, size, size))) == 1
        with pytest.raises(ValueError, match=f"at least {size} x {size}"):
            net(torch.zeros(1, 3, size - 1, size + 10))


def test_input_errors(nets):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nets["alex"](torch.zeros(1, 1, 64, 64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        nets["alex"]([[0.0]])
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        build_backbone("resnet")
    with pytest.raises(ValueError, match="seed"):
        build_backbone("alex", seed=-1)


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone(nets):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_backbone("squeeze", seed=5)
    assert torch.equal(torch.rand(3), expected_next)
    b = build_backbone("squeeze", seed=5)
    c = build_backbone("squeeze", seed=6)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    # torchvision's init for SqueezeNet: zero biases; for VGG: kaiming normal (fan_out), zero biases.
    assert all(float(v.abs().sum()) == 0 for k, v in a.state_dict().items() if k.endswith("bias"))
    w = nets["vgg"].features[28].weight
    assert abs(w.std().item() - (2 / (512 * 9)) ** 0.5) < 0.02 * (2 / (512 * 9)) ** 0.5


def test_torchvision_state_dict_loads_strictly(nets):
    # A full torchvision model state dict (features + classifier): the classifier is dropped, the rest
    # must fit exactly, and the values arrive.
    src = build_backbone("alex", seed=1)
    full = dict(src.state_dict())
    full["classifier.1.weight"] = torch.zeros(4096, 9216)
    full["classifier.1.bias"] = torch.zeros(4096)
    dst = build_backbone("alex", seed=2)
    load_trunk(dst, full, source="test")
    assert all(torch.equal(dst.state_dict()[k], v) for k, v in src.state_dict().items())

    renamed = dict(src.state_dict())
    renamed["features.1.weight"] = renamed.pop("features.0.weight")  # shifted index: not the same layer
    msg = r"missing keys \(1\): features.0.weight.*unexpected keys \(1\): features.1.weight"
    with pytest.raises(WeightsError, match=msg):
        load_trunk(build_backbone("alex"), renamed)
    wrong = dict(src.state_dict())
    wrong["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    with pytest.raises(WeightsError, match=r"features.3.weight: file \(192, 64, 3, 3\) vs model \(192, 64, 5, 5\)"):
        load_trunk(build_backbone("alex"), wrong)
    with pytest.raises(TypeError, match="FeatureTaps"):
        load_trunk(nn.Conv2d(3, 3, 1), full)


def test_imagenet_normalize():
    mean = torch.tensor(backbones.IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    assert torch.allclose(imagenet_normalize(mean), torch.zeros(2, 3, 4, 4), atol=1e-7)
    ones = imagenet_normalize(torch.ones(1, 3, 1, 1)).flatten()
    expected = [(1 - m) / s for m, s in zip(backbones.IMAGENET_MEAN, backbones.IMAGENET_STD)]
    assert torch.allclose(ones, torch.tensor(expected))
    with pytest.raises(TypeError, match="floating-point"):
        imagenet_normalize(torch.ones(1, 3, 2, 2, dtype=torch.uint8))
