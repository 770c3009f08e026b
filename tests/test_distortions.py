"""Tests of reprolib.chapters.lpips.distortions: the 20 traditional distortions of BAPPS (thesis Table 6.2, left)."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.color import rgb_to_lab
from reprolib.data.patches import colorworld_patches
from reprolib.chapters.lpips.distortions import (
    DISTORTIONS,
    GROUPS,
    clone_generator,
    compose,
    distort,
    families,
    get_distortion,
    jpeg_quality,
    to_lpips_range,
)

NAMES = list(DISTORTIONS)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def patches():
    """Four textured 32x32 scenes (ColorWorld, so no photo is needed)."""
    return colorworld_patches(4, size=32, seed=1)


def mse(a, b):
    return float(((a.double() - b.double()) ** 2).mean())


# ---------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------


def test_registry_has_the_20_families_of_table_6_2():
    # "In total, we have 20 distortions" (thesis sec. 6.2.1), grouped as in Table 6.2 (left)
    assert len(DISTORTIONS) == 20
    counts = {g: len(families(g)) for g in GROUPS}
    assert counts == {"photometric": 4, "noise": 6, "blur": 2, "spatial": 7, "compression": 1}
    assert families("blur") == ["gaussian_blur", "bilateral"]
    assert families(["blur", "compression"]) == ["gaussian_blur", "bilateral", "jpeg"]
    for name, d in DISTORTIONS.items():
        assert d.name == name and d.group in GROUPS and d.description and d.parameter


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="known distortions are .*gaussian_blur"):
        get_distortion("gaussian_blurr")
    with pytest.raises(ValueError, match="groups are"):
        families("colour")


# ---------------------------------------------------------------------------------------------------
# The contract every distortion keeps
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, patches):
    d = DISTORTIONS[name]
    # severity 0 is the identity
    assert (d.apply(patches, 0.0, gen()) - patches).abs().max() <= 1e-6
    # shape, dtype, range
    out = d.apply(patches, 0.8, gen())
    assert out.shape == patches.shape and out.dtype == patches.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert mse(out, patches) > 1e-5  # it does distort
    # determinism: same generator state -> identical output
    assert torch.equal(out, d.apply(patches, 0.8, gen()))
    other = d.apply(patches, 0.8, gen(1))
    if d.random:
        assert not torch.equal(out, other)
    else:
        assert torch.equal(out, other)  # a deterministic distortion ignores the generator
    # float64 in, float64 out
    assert d.apply(patches.double(), 0.3, gen()).dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_mse_grows_with_severity_for_the_same_draw(name, patches):
    d = DISTORTIONS[name]
    g = gen(7)
    errors = [mse(d.apply(patches, s, clone_generator(g)), patches) for s in (1e-3, 0.25, 0.5, 0.75, 1.0)]
    assert all(a < b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] < 0.01 * errors[-1]  # continuous at 0: a tiny severity is a tiny change


@pytest.mark.parametrize("name", NAMES)
def test_amount_drawn_does_not_depend_on_severity(name, patches):
    a, b = gen(3), gen(3)
    DISTORTIONS[name].apply(patches, 0.1, a)
    DISTORTIONS[name].apply(patches, 0.9, b)
    assert torch.equal(a.get_state(), b.get_state())


def test_per_image_severity(patches):
    for name in ("gaussian_noise", "shift", "jpeg", "lightness_shift"):
        sev = torch.tensor([0.0, 0.7, 0.0, 0.7])
        out = distort(patches, name, sev, gen(2))
        assert (out[[0, 2]] - patches[[0, 2]]).abs().max() <= 1e-6
        # the other rows are what the scalar severity gives with the same draws
        assert torch.allclose(out[[1, 3]], distort(patches, name, 0.7, gen(2))[[1, 3]], atol=1e-6)


# ---------------------------------------------------------------------------------------------------
# Known values of individual distortions
# ---------------------------------------------------------------------------------------------------


def grey(n=2, size=32, value=0.5):
    return torch.full((n, 3, size, size), value)


@pytest.mark.parametrize("name", families(["spatial", "blur"]) + ["contrast"])
def test_a_flat_image_is_unchanged_by_warps_blurs_and_contrast(name):
    x = grey(value=0.3)
    assert (distort(x, name, 1.0, gen()) - x).abs().max() <= 1e-6


def test_lightness_shift_moves_L_by_25_times_severity():
    x = grey()
    dL = rgb_to_lab(distort(x, "lightness_shift", 0.5, gen()))[:, 0] - rgb_to_lab(x)[:, 0]
    assert torch.allclose(dL.abs(), torch.full_like(dL, 12.5), atol=0.05)


def test_contrast_stretches_about_the_mean():
    x = 0.4 + 0.2 * torch.rand(2, 3, 16, 16, generator=gen())
    out = distort(x, "contrast", 0.5, gen())  # gain 1.5, nothing clipped
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out - mean, 1.5 * (x - mean), atol=1e-6)


def test_saturation_scales_chroma_by_3_at_most():
    x = torch.tensor([0.45, 0.5, 0.55]).reshape(1, 3, 1, 1).expand(4, 3, 16, 16).contiguous()
    ab = rgb_to_lab(x)[:, 1:].norm(dim=1)
    ratio = (rgb_to_lab(distort(x, "saturation", 1.0, gen()))[:, 1:].norm(dim=1) / ab).mean(dim=(1, 2))
    # gain 3 or 1/3, whichever sign was drawn
    assert all(min(abs(r - 3), abs(r - 1 / 3)) < 0.01 for r in ratio.tolist()), ratio


@pytest.mark.parametrize("name", ["uniform_noise", "gaussian_noise", "pink_noise", "blue_noise"])
def test_noise_std_is_point_two_times_severity(name):
    x = grey(4, 64)
    diff = distort(x, name, 0.5, gen()) - x  # std 0.1 on mid-grey: no clipping
    assert abs(float(diff.std()) - 0.1) < 0.003
    if name == "uniform_noise":
        assert float(diff.abs().max()) <= 0.1 * math.sqrt(3) + 1e-6


def _low_high_power(diff):
    power = torch.fft.fft2(diff.double()).abs() ** 2
    f = torch.fft.fftfreq(diff.shape[-1]).abs()
    radius = torch.maximum(f[:, None], f[None, :])
    return float(power[..., (radius > 0) & (radius < 0.125)].mean()), float(power[..., radius > 0.375].mean())


def test_pink_noise_is_low_frequency_and_blue_noise_high_frequency():
    x = grey(2, 64)
    low, high = _low_high_power(distort(x, "pink_noise", 0.5, gen()) - x)
    assert low > 4 * high
    low, high = _low_high_power(distort(x, "blue_noise", 0.5, gen()) - x)
    assert high > 4 * low
    low, high = _low_high_power(distort(x, "gaussian_noise", 0.5, gen()) - x)
    assert 0.7 < low / high < 1.4  # white


def _channel_correlation(diff):
    """Mean over images of the correlation between the red and green planes of ``diff``."""
    r, g = diff[:, 0].flatten(1).double(), diff[:, 1].flatten(1).double()
    r, g = r - r.mean(1, keepdim=True), g - g.mean(1, keepdim=True)
    return float(((r * g).sum(1) / (r.norm(dim=1) * g.norm(dim=1))).mean())


def test_colored_noise_is_correlated_across_channels():
    x = grey(8, 32)
    # the shared component has rho uniform in [0.3, 0.9]: mean 0.6 (0.43 at worst over 300 seeds)
    assert _channel_correlation(distort(x, "colored_noise", 0.5, gen()) - x) > 0.35
    # white noise draws the channels independently (|corr| < 0.04 over 300 seeds)
    assert abs(_channel_correlation(distort(x, "gaussian_noise", 0.5, gen()) - x)) < 0.1


def test_checkerboard_has_constant_magnitude_and_alternating_sign():
    x = grey(4, 32)
    diff = distort(x, "checkerboard", 1.0, gen()) - x
    magnitude = diff.abs()
    assert torch.allclose(magnitude, magnitude[..., :1, :1].expand_as(magnitude), atol=1e-6)
    assert torch.allclose(diff.mean(dim=(2, 3)), torch.zeros(4, 3), atol=1e-6)  # as many + as - cells
    assert float(magnitude.max()) <= 0.15 + 1e-6


def test_gaussian_blur_flattens_a_fine_checkerboard():
    idx = torch.arange(32)
    pattern = ((idx[:, None] + idx[None, :]) % 2).float().expand(1, 3, 32, 32)
    out = distort(pattern, "gaussian_blur", 1.0, gen())  # sigma 1.25 px at 32 px
    assert float(out.var()) < 1e-3 * float(pattern.var())
    assert abs(float(out.mean()) - 0.5) < 1e-4


def test_chromatic_aberration_leaves_green_alone(patches):
    out = distort(patches, "chromatic_aberration", 1.0, gen())
    assert torch.allclose(out[:, 1], patches[:, 1], atol=1e-6)
    assert mse(out[:, 0], patches[:, 0]) > 1e-5 and mse(out[:, 2], patches[:, 2]) > 1e-5


def test_jpeg_matches_a_direct_pil_round_trip(patches):
    s = (101 - 53) / 96  # quality exactly 53
    assert jpeg_quality(s) == pytest.approx(53)
    assert jpeg_quality(0.0) == 101 and jpeg_quality(1.0) == 5
    out = distort(patches, "jpeg", s, gen())
    for img, got in zip(patches, out):
        buffer = io.BytesIO()
        array = (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(array).save(buffer, format="JPEG", quality=53)
        expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        assert torch.allclose(got, torch.from_numpy(expected.copy()).permute(2, 0, 1) / 255.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------------
# Composition, range conversion, errors
# ---------------------------------------------------------------------------------------------------


def test_compose_applies_in_order(patches):
    out = compose(patches, [("gaussian_blur", 0.4), ("gaussian_noise", 0.3)], gen(4))
    g = gen(4)
    expected = distort(distort(patches, "gaussian_blur", 0.4, g), "gaussian_noise", 0.3, g)
    assert torch.equal(out, expected)
    assert not torch.equal(out, compose(patches, [("gaussian_noise", 0.3), ("gaussian_blur", 0.4)], gen(4)))
    with pytest.raises(ValueError, match="known distortions are"):
        compose(patches, [("blurr", 0.4)], gen())
    with pytest.raises(ValueError, match="non-empty sequence"):
        compose(patches, [], gen())
    with pytest.raises(ValueError, match="pair"):
        compose(patches, [("jpeg",)], gen())


def test_to_lpips_range():
    x = torch.tensor([0.0, 0.5, 1.0]).reshape(1, 3, 1, 1).expand(1, 3, 8, 8)
    assert torch.equal(to_lpips_range(x)[0, :, 0, 0], torch.tensor([-1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_lpips_range(2 * x - 1)


@pytest.mark.parametrize("severity", [-0.1, 1.5, float("nan")])
def test_severity_outside_unit_interval(severity, patches):
    with pytest.raises(ValueError, match=r"severity must be in \[0, 1\]"):
        distort(patches, "jpeg", severity, gen())


def test_bad_severity_types_and_lengths(patches):
    with pytest.raises(TypeError, match="severity must be a number"):
        distort(patches, "shift", True, gen())
    with pytest.raises(TypeError, match="severity must be a number"):
        distort(patches, "shift", "0.5", gen())
    with pytest.raises(ValueError, match=r"one value per image \(4\)"):
        distort(patches, "shift", torch.tensor([0.1, 0.2]), gen())


def test_bad_images(patches):
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\).*x\[None\]"):
        distort(patches[0], "shift", 0.5, gen())
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        distort(patches[:, :1], "shift", 0.5, gen())
    with pytest.raises(TypeError, match="floating-point"):
        distort((patches * 255).to(torch.uint8), "shift", 0.5, gen())
    with pytest.raises(ValueError, match="divide by 255"):
        distort(patches * 255, "shift", 0.5, gen())
    with pytest.raises(ValueError, match=r"\[-1, 1\] range of LPIPS inputs: convert with \(x \+ 1\) / 2"):
        distort(2 * patches - 1, "shift", 0.5, gen())
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        distort(patches - 2, "shift", 0.5, gen())
    with pytest.raises(ValueError, match="at least 8 x 8"):
        distort(patches[..., :4, :4], "shift", 0.5, gen())
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        distort(patches.numpy(), "shift", 0.5, gen())
    with pytest.raises(TypeError, match="torch.Generator"):
        distort(patches, "shift", 0.5, 0)
