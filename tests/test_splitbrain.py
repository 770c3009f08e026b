"""The split-brain networks: shapes, the channel split, what each half can see, and the losses."""

import pytest
import torch

from reprolib.modelinfo import count_parameters
from reprolib.models.splitbrain import LAYERS, AlexNetTrunk, CrossChannel, SplitBrain, cross_channel_loss, widths
from reprolib.quantize import NUM_L_BINS, decode_l, encode_l


def _lab(n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.rand(n, 1, size, size, generator=g) - 0.5,
                      (torch.rand(n, 2, size, size, generator=g) - 0.5) * 1.2], 1)


def test_lightness_classes_have_width_two_and_clamp_at_100():
    L = torch.tensor([0.0, 1.99, 2.0, 57.3, 99.99, 100.0])
    assert encode_l(L).tolist() == [0, 0, 1, 28, 49, 49]
    assert decode_l(torch.arange(NUM_L_BINS)).tolist() == [float(2 * k + 1) for k in range(50)]
    assert torch.equal(encode_l(decode_l(torch.arange(50))), torch.arange(50))  # a centre is in its own class
    with pytest.raises(ValueError, match="normalised"):
        encode_l(torch.tensor([-0.5, 0.2]))
    with pytest.raises(ValueError, match=r"\[0, 50\)"):
        decode_l(torch.tensor([50]))


def test_trunk_shapes_follow_the_alexnet_pattern_at_one_eighth():
    net = AlexNetTrunk(3, 313, width=0.125)
    x = torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        maps = net.features(x)
    c = widths(0.125)
    assert [tuple(maps[k].shape[1:]) for k in LAYERS] == [(c[0], 32, 32), (c[1], 16, 16), (c[2], 8, 8), (c[3], 8, 8),
                                                          (c[4], 8, 8)]
    assert net(x).shape == (2, 313, 8, 8)
    assert all(float(m.min()) >= 0 for m in maps.values())  # post-ReLU taps


def test_split_halves_match_the_full_width_and_halve_the_parameters():
    full = CrossChannel("L", "ab", "cl", width=0.25)
    split = SplitBrain(CrossChannel("L", "ab", "cl", width=0.125), CrossChannel("ab", "L", "cl", width=0.125))
    lab = _lab()
    f_full, f_split = full.features(lab), split.features(lab)
    assert [f_split[k].shape for k in LAYERS] == [f_full[k].shape for k in LAYERS]
    ratio = count_parameters(split) / count_parameters(full)
    assert 0.4 < ratio < 0.6, ratio  # sec. 5.3.2: about half


def test_each_half_sees_only_its_own_channels():
    split = SplitBrain(CrossChannel("L", "ab", "cl", width=0.125), CrossChannel("ab", "L", "reg", width=0.125)).eval()
    lab = _lab()
    recoloured = lab.clone()
    recoloured[:, 1:] = -recoloured[:, 1:]  # the same grey image, other colours
    one, two = split.halves
    with torch.no_grad():
        for k in LAYERS:  # the same computation on the same inputs: equal
            assert torch.equal(one.features(lab)[k], one.features(recoloured)[k])
        assert not torch.equal(two.features(lab)["conv1"], two.features(recoloured)["conv1"])


def test_losses_are_zero_for_a_perfect_regression_and_match_a_hand_cross_entropy(monkeypatch):
    lab = _lab(seed=1)
    reg = CrossChannel("ab", "L", "reg", width=0.125)
    target = lab[:, :1, 4::8, 4::8]
    monkeypatch.setattr(reg, "forward", lambda x: target.clone())
    assert float(cross_channel_loss(reg, lab)) == 0.0
    monkeypatch.setattr(reg, "forward", lambda x: target + 0.1)
    assert float(cross_channel_loss(reg, lab)) == pytest.approx(0.5 * 0.01, rel=1e-5)
    cl = CrossChannel("ab", "L", "cl", width=0.125)
    logits = torch.randn(2, NUM_L_BINS, 8, 8, generator=torch.Generator().manual_seed(2))
    monkeypatch.setattr(cl, "forward", lambda x: logits)
    classes = encode_l(target[:, 0] * 100 + 50)
    hand = -torch.log_softmax(logits, 1).gather(1, classes[:, None]).mean()
    torch.testing.assert_close(cross_channel_loss(cl, lab), hand)


def test_bad_configurations_are_explained():
    with pytest.raises(ValueError, match="source and target"):
        CrossChannel("rgb", "ab", "cl")
    with pytest.raises(ValueError, match="regresses"):
        CrossChannel("Lab", "Lab", "cl")
    with pytest.raises(ValueError, match="multiples of 8"):
        CrossChannel("L", "ab", "cl", width=0.125)(torch.zeros(1, 3, 60, 60))
    with pytest.raises(ValueError, match="width"):
        widths(0)


def test_every_variant_builds_and_its_loss_trains_what_it_should():
    from reprolib.models.splitbrain import VARIANTS, build, pretrain_loss

    lab, labels = _lab(n=2, seed=3), torch.tensor([0, 5])
    for name, v in VARIANTS.items():
        if v.pretrained:  # the ImageNet network has its own widths (test_imagenet_reference_*)
            continue
        torch.manual_seed(0)
        net = build(name, width=0.125)
        feats = net.features(lab)
        assert [feats[k].shape[1] for k in LAYERS] == list(widths(0.125)[:5]), name  # equal feature sizes
        if not v.trained:
            with pytest.raises(ValueError, match="not trained"):
                pretrain_loss(name, net, lab)
            continue
        loss = pretrain_loss(name, net, lab, labels)
        assert loss.dim() == 0 and torch.isfinite(loss), name
        loss.backward()
        assert all(p.grad is not None for p in net.parameters()), name


def test_joint_losses_never_show_the_predicted_channels(monkeypatch):
    """Eq. 5.4: the ab term sees L alone (ab zeroed: 0 in normalised units), the L term ab alone."""
    from reprolib.models.splitbrain import build, pretrain_loss

    net = build("lab_ab_l", width=0.125)
    seen = []
    monkeypatch.setattr(net, "forward", lambda x: (seen.append(x.clone()), torch.zeros(x.shape[0], 3, 8, 8))[1])
    lab = _lab(seed=4)
    pretrain_loss("lab_ab_l", net, lab)
    colour_input, grey_input = seen
    assert torch.equal(colour_input[:, 1:], torch.zeros_like(lab[:, 1:])) and torch.equal(colour_input[:, :1], lab[:, :1])
    assert torch.equal(grey_input[:, :1], torch.zeros_like(lab[:, :1])) and torch.equal(grey_input[:, 1:], lab[:, 1:])
    seen.clear()
    net55 = build("lab_ab_l_lab", width=0.125)
    monkeypatch.setattr(net55, "forward", lambda x: (seen.append(x.clone()), torch.zeros(x.shape[0], 3, 8, 8))[1])
    loss55 = pretrain_loss("lab_ab_l_lab", net55, lab)
    assert len(seen) == 3 and torch.equal(seen[2], lab)  # the autoencoder term sees the whole image
    target = lab[:, :, 4::8, 4::8]
    hand = (0.5 * target[:, 1:].pow(2).sum(1).mean() + 0.5 * target[:, :1].pow(2).sum(1).mean()
            + 0.5 * target.pow(2).sum(1).mean()) / 3  # all three terms weigh 1/3 at lambda = 1/3
    torch.testing.assert_close(loss55, hand)


def test_imagenet_reference_is_alexnet_on_the_enlarged_rgb_scene():
    """conv1..conv5 of the ImageNet reference are torchvision AlexNet's relu1..relu5 of the scene turned back into
    RGB, enlarged twice and ImageNet-normalised (a random backbone: the composition is what is tested)."""
    import torch.nn.functional as F

    from reprolib.color import rgb_to_l_ab
    from reprolib.nn.backbones import build_backbone, imagenet_normalize
    from reprolib.models.splitbrain import ImageNetAlexNet, lab_to_rgb_normalised

    backbone = build_backbone("alex", seed=0).eval()
    net = ImageNetAlexNet(backbone)
    rgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1
    L, ab = rgb_to_l_ab(rgb)
    lab = torch.cat([(L - 50) / 100, ab / 110], 1)
    # the normalised Lab goes back to the same RGB (float32 round trip through XYZ: a few 1e-6)
    assert torch.allclose(lab_to_rgb_normalised(lab), rgb, atol=1e-4)
    with torch.no_grad():
        feats = net.features(lab)
        taps = backbone(imagenet_normalize(F.interpolate(lab_to_rgb_normalised(lab), size=(64, 64), mode="bilinear",
                                                         align_corners=False)))
    assert list(feats) == list(LAYERS)
    assert [feats[k].shape[1] for k in LAYERS] == [64, 192, 384, 256, 256]
    assert feats["conv1"].shape[-1] == 15 and feats["conv5"].shape[-1] == 3  # 64 px through AlexNet's strides
    for k, t in zip(LAYERS, taps):
        assert torch.allclose(feats[k], t, rtol=1e-5, atol=1e-6), k
    with pytest.raises(ValueError, match="normalised Lab"):
        net.features(lab[:, :1])


def test_imagenet_variant_is_the_offline_imagenet_alexnet():
    from reprolib.models.splitbrain import VARIANTS, build, pretrain_loss
    from reprolib.nn.pretrained import pretrained_backbone

    net = build("imagenet", width=0.125)
    ref = pretrained_backbone("alex")
    assert not VARIANTS["imagenet"].trained
    assert all(torch.equal(a, b) for a, b in zip(net.backbone.state_dict().values(), ref.state_dict().values()))
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(ValueError, match="not trained here"):
        pretrain_loss("imagenet", net, _lab(n=2, seed=0))


def test_layer_tables_build_networks_with_their_shapes_and_grouped_weights():
    from torch import nn

    from reprolib.models.splitbrain import LayerSpec, alexnet_from_specs, map_sides

    specs = [LayerSpec("conv1", "conv", 8, 5, 2, 1, 2), LayerSpec("pool1", "pool", None, 3, 2),
             LayerSpec("conv2", "conv", 6, 3, 1, 2, 2, groups=2), LayerSpec("out", "conv", None, 1)]
    net = alexnet_from_specs(specs, in_channels=3, out_channels=5)
    names = [n for n, _ in net.named_children()]
    assert names == ["conv1", "conv1_relu", "pool1", "conv2", "conv2_relu", "out", "out_relu"]
    assert net.conv2.weight.shape == (6, 4, 3, 3) and net.out.out_channels == 5
    # 33 -> conv1 (33 + 4 - 5) / 2 + 1 = 17 -> pool (17 - 3) / 2 + 1 = 8 -> dilated 3 x 3 (span 5), pad 2: 8
    assert map_sides(net, 33) == {"conv1": 17, "pool1": 8, "conv2": 8, "out": 8}
    assert map_sides(net, 33) == {k: v.shape[-1] for k, v in _named_outputs(net, torch.zeros(1, 3, 33, 33)).items()}
    # Caffe's pools round up: 20 -> conv1 10 -> pool ceil((10 - 3) / 2) + 1 = 5, where rounding down gives 4
    assert map_sides(net, 20)["pool1"] == 5
    with torch.device("meta"):
        meta = alexnet_from_specs(specs, in_channels=3, out_channels=5)
    assert map_sides(meta, 33) == map_sides(net, 33)  # shapes without arithmetic
    with pytest.raises(ValueError, match="out_channels"):
        alexnet_from_specs(specs, in_channels=3)
    with pytest.raises(ValueError, match="LayerSpec"):
        alexnet_from_specs([LayerSpec("x", "dense", 4, 1)], in_channels=3)
    assert isinstance(net.pool1, nn.MaxPool2d) and net.pool1.ceil_mode


def _named_outputs(net, x):
    out = {}
    for name, module in net.named_children():
        x = module(x)
        if not name.endswith("_relu"):
            out[name] = x
    return out
