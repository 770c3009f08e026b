"""Tests of reprolib.chapters.lpips.cnn_distortions: briefly trained denoising autoencoders as distortions (Table 6.2, right)."""

import dataclasses

import pytest
import torch

from reprolib.chapters.lpips.cnn_distortions import (
    CORRUPTIONS,
    NORMALIZATIONS,
    UPSAMPLINGS,
    CNNDistorterSpec,
    DenoisingAutoencoder,
    RandomFeatureLoss,
    corrupt,
    make_cnn_distorters,
    sample_spec,
    train_distorter,
)
from reprolib.data.patches import colorworld_patches


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def patches():
    return colorworld_patches(24, size=32, seed=2)


@pytest.fixture(scope="module")
def distorters(patches):
    return make_cnn_distorters(2, seed=0, steps=20, size=32, patches=patches, batch_size=8)


def spec(**changes):
    base = CNNDistorterSpec(corruption="null", corruption_strength=0.0, num_levels=2, skips=(True, False),
                            input_skip=False, dropout=(False, True), upsampling="bilinear",
                            normalization="batch", first_stride=1, width=8, max_width=16,
                            loss_weights=(1.0, 0.0, 0.0), lr=1e-3, seed=0)
    return dataclasses.replace(base, **changes)


def test_sample_spec_covers_table_6_2_and_is_deterministic():
    specs = [sample_spec(gen(0)) for _ in range(2)]
    assert specs[0] == specs[1]
    g = gen(1)
    many = [sample_spec(g) for _ in range(150)]
    assert {s.corruption for s in many} == set(CORRUPTIONS)
    assert {s.upsampling for s in many} == set(UPSAMPLINGS)
    assert {s.normalization for s in many} == set(NORMALIZATIONS)
    assert {s.num_levels for s in many} == {1, 2, 3}
    assert {s.first_stride for s in many} == {1, 2}
    assert all(s.max_width <= 32 and sum(s.loss_weights) > 0 for s in many)
    assert all(3e-4 <= s.lr <= 3e-3 for s in many)


def test_every_sampled_architecture_maps_an_image_to_an_image():
    g = gen(5)
    for _ in range(25):
        s = sample_spec(g)
        net = DenoisingAutoencoder(s).eval()
        x = torch.rand(2, 3, 32, 32, generator=g)
        with torch.no_grad():
            y = net(x)
        assert y.shape == x.shape and float(y.min()) > 0 and float(y.max()) < 1  # sigmoid output


def test_skips_change_the_architecture():
    with_skip, without = DenoisingAutoencoder(spec()), DenoisingAutoencoder(spec(skips=(False, False)))
    # the skip doubles the channels entering the output conv (2 * 8 instead of 8)
    assert with_skip.out.in_channels == 16 and without.out.in_channels == 8
    assert DenoisingAutoencoder(spec(input_skip=True)).out.in_channels == 16 + 3
    assert sum(isinstance(m, torch.nn.Dropout) for m in with_skip.modules()) == 1


def test_corruptions():
    x = torch.rand(2, 3, 32, 32, generator=gen())
    assert torch.equal(corrupt(x, spec(), gen()), x)
    grey = corrupt(x, spec(corruption="color_removal"), gen())
    assert (grey.max(dim=1).values - grey.min(dim=1).values).max() < 1e-3  # R = G = B
    idx = torch.arange(32)
    checker = ((idx[:, None] + idx[None, :]) % 2).float().expand(1, 3, 32, 32)
    low = corrupt(checker, spec(corruption="downsample", corruption_strength=2.0), gen())
    assert torch.allclose(low, torch.full_like(low, 0.5), atol=1e-6)  # the finest detail is gone
    flat = torch.full((4, 3, 32, 32), 0.5)
    noisy = corrupt(flat, spec(corruption="white_noise", corruption_strength=0.3), gen())
    assert abs(float((noisy - flat).std()) - 0.06) < 0.005  # severity 0.3 of std-0.2 noise


def test_spec_validation():
    with pytest.raises(ValueError, match="corruption must be one of"):
        spec(corruption="blur")
    with pytest.raises(ValueError, match="one flag per level"):
        spec(skips=(True,))
    with pytest.raises(ValueError, match="loss_weights"):
        spec(loss_weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="downsampling factor must be 2 or 4"):
        spec(corruption="downsample", corruption_strength=3.0)
    with pytest.raises(ValueError, match="first_stride"):
        spec(first_stride=3)


def test_random_feature_loss_is_a_fixed_distance():
    loss = RandomFeatureLoss(seed=3)
    x = torch.rand(2, 3, 16, 16, generator=gen())
    y = torch.rand(2, 3, 16, 16, generator=gen(1))
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, y)) > 0 and float(loss(x, y)) == pytest.approx(float(loss(y, x)))
    assert float(loss(x, y)) == float(RandomFeatureLoss(seed=3)(x, y))  # same seed, same features
    assert not any(p.requires_grad for p in loss.parameters())


def test_make_cnn_distorters_trains_deterministic_distortions(distorters, patches):
    assert [d.name for d in distorters] == ["cnn00", "cnn01"]
    x = colorworld_patches(3, size=32, seed=9)
    again = make_cnn_distorters(2, seed=0, steps=20, size=32, patches=patches, batch_size=8)
    for d, d2 in zip(distorters, again):
        assert d.spec == d2.spec and d.losses == d2.losses
        y = d(x)
        assert torch.equal(y, d2(x)) and torch.equal(y, d(x))
        assert y.shape == x.shape and y.dtype == x.dtype
        assert 0 <= float(y.min()) and float(y.max()) <= 1
        assert float(((y - x) ** 2).mean()) > 1e-4  # an undertrained network distorts
        assert len(d.losses) == 20
        assert sum(d.losses[-5:]) / 5 < d.losses[0]  # it did learn something


def test_training_leaves_the_global_generator_alone(patches):
    state = torch.get_rng_state()
    train_distorter(spec(), patches, steps=2, batch_size=4)
    assert torch.equal(state, torch.get_rng_state())


def test_bad_arguments(patches, distorters):
    with pytest.raises(ValueError, match="k must be"):
        make_cnn_distorters(-1, patches=patches, size=32)
    with pytest.raises(ValueError, match="size must be a multiple of 16"):
        make_cnn_distorters(1, size=40)
    with pytest.raises(ValueError, match="patches must be 64 x 64"):
        make_cnn_distorters(1, size=64, patches=patches)
    with pytest.raises(ValueError, match="steps must be"):
        train_distorter(spec(), patches, steps=-2)
    with pytest.raises(ValueError, match="divisible by"):
        distorters[0](torch.rand(1, 3, 33, 33))  # every spec has at least one stride-2 stage
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        distorters[0](patches[0])
