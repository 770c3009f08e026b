"""Tests of reprolib.color: RGB <-> Lab against skimage, gradients, validation, colourfulness."""

import itertools

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from reprolib import color
from reprolib.color import (
    AB_NORM,
    L_CENT,
    L_NORM,
    check_lab,
    check_rgb,
    colorfulness,
    gray_rgb,
    l_ab_to_rgb,
    lab_to_rgb,
    normalize_ab,
    normalize_l,
    rgb_to_l_ab,
    rgb_to_lab,
    unnormalize_ab,
    unnormalize_l,
)

CORNERS = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)  # (8, 3)


def rand(*shape, dtype=torch.float64, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Agreement with skimage (float64, 1e-4)
# ---------------------------------------------------------------------------------------------


def test_rgb_to_lab_matches_skimage_images():
    rgb = rand(3, 3, 17, 19)
    ours = rgb_to_lab(rgb).numpy()
    ref = rgb2lab(rgb.numpy(), channel_axis=1)
    assert np.abs(ours - ref).max() < 1e-4


def test_rgb_to_lab_matches_skimage_on_cube_corners_and_knees():
    # the 8 corners of the cube, plus values on both sides of the sRGB knee (0.04045)
    knee = [[0.04045, 0.04, 0.0405], [0.0, 0.0031308, 1.0], [0.5, 0.5, 0.5]]
    knee = torch.tensor(knee, dtype=torch.float64)
    rgb = torch.cat([CORNERS, knee])
    ours = rgb_to_lab(rgb, dim=-1).numpy()
    ref = rgb2lab(rgb.numpy()[None])[0]
    assert np.abs(ours - ref).max() < 1e-4


def test_lab_to_rgb_matches_skimage():
    rgb = rand(2, 3, 11, 13, seed=1)
    lab = rgb_to_lab(rgb)
    ours = lab_to_rgb(lab).numpy()
    ref = lab2rgb(lab.numpy(), channel_axis=1)
    assert np.abs(ours - ref).max() < 1e-4
    # also on Lab colours that are not from RGB (out of gamut: both clip the same way)
    gen = torch.Generator().manual_seed(2)
    lab = torch.stack(
        [torch.rand(500, generator=gen, dtype=torch.float64) * 100,
         torch.rand(500, generator=gen, dtype=torch.float64) * 200 - 100,
         torch.rand(500, generator=gen, dtype=torch.float64) * 200 - 100], dim=-1)  # fmt: skip
    with pytest.warns(UserWarning):  # skimage warns about the negative Z values it clips
        ref = lab2rgb(lab.numpy()[None])[0]
    assert np.abs(lab_to_rgb(lab, dim=-1).numpy() - ref).max() < 1e-4


def test_known_values_white_black_and_grey_axis():
    lab = rgb_to_lab(CORNERS, dim=-1)
    white, black = lab[-1], lab[0]
    # (skimage's matrix rows do not sum exactly to the D65 white: white is off by < 0.005 in a, b)
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0], dtype=torch.float64), atol=1e-2)
    assert torch.allclose(black, torch.zeros(3, dtype=torch.float64), atol=1e-9)
    greys = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None].expand(11, 3)
    lab = rgb_to_lab(greys, dim=-1)
    assert lab[:, 1:].abs().max() < 1e-2  # neutral greys have a = b = 0 (D65 white)
    assert (lab[1:, 0] > lab[:-1, 0]).all()  # L increases with grey level


def test_round_trip_float64_and_float32():
    rgb = rand(2, 3, 8, 9)
    assert (lab_to_rgb(rgb_to_lab(rgb)) - rgb).abs().max() < 1e-9
    rgb32 = rgb.float()
    assert (lab_to_rgb(rgb_to_lab(rgb32)) - rgb32).abs().max() < 1e-4


def test_dtype_shape_and_channel_axis_contracts():
    rgb = rand(2, 3, 5, 7)
    for dtype in (torch.float32, torch.float64):
        lab = rgb_to_lab(rgb.to(dtype))
        assert lab.dtype == dtype and lab.shape == rgb.shape
        assert lab_to_rgb(lab).dtype == dtype
    # float32 agrees with float64 to 1e-3 Lab units
    assert (rgb_to_lab(rgb.float()).double() - rgb_to_lab(rgb)).abs().max() < 1e-3
    # (3, H, W) and (..., 3) with dim=-1 give the same numbers as (N, 3, H, W)
    lab = rgb_to_lab(rgb)
    assert torch.allclose(rgb_to_lab(rgb[1]), lab[1])
    last = rgb_to_lab(rgb.permute(0, 2, 3, 1), dim=-1)
    assert torch.allclose(last, lab.permute(0, 2, 3, 1))
    # half precision is computed in float32 and returned as half
    half = rgb_to_lab(rgb.half())
    assert half.dtype == torch.float16 and (half.double() - lab).abs().max() < 0.1


def test_chunked_cpu_path_equals_whole(monkeypatch):
    rgb = rand(3, 3, 6, 5, seed=3)
    whole_lab = rgb_to_lab(rgb)
    whole_rgb = lab_to_rgb(whole_lab, clip=False)
    for chunk in (7, 30, 64):  # chunks smaller than a row, a few rows, several images
        monkeypatch.setattr(color, "_CHUNK", chunk)
        assert torch.equal(rgb_to_lab(rgb), whole_lab)
        assert torch.equal(lab_to_rgb(whole_lab, clip=False), whole_rgb)
        assert torch.equal(rgb_to_lab(rgb.permute(0, 2, 3, 1), dim=-1), whole_lab.permute(0, 2, 3, 1))


def test_input_not_modified():
    rgb = rand(1, 3, 4, 4)
    copy = rgb.clone()
    lab = rgb_to_lab(rgb)
    lab_copy = lab.clone()
    lab_to_rgb(lab)
    assert torch.equal(rgb, copy) and torch.equal(lab, lab_copy)


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def test_gradcheck_both_directions():
    rgb = (rand(1, 3, 2, 3, seed=4) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = rgb_to_lab(rgb.detach()).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: lab_to_rgb(x, clip=False), (lab,))


def test_gradients_finite_at_zero_and_at_the_knees():
    # 0, the sRGB knee, the grey whose Y is the Lab knee (Y = 0.008856), 1
    lab_knee_grey = 1.055 * 0.008856 ** (1 / 2.4) - 0.055
    values = torch.tensor([0.0, 0.04045, lab_knee_grey, 1.0], dtype=torch.float64)
    rgb = values[:, None].repeat(1, 3).requires_grad_()
    rgb_to_lab(rgb, dim=-1).sum().backward()
    assert torch.isfinite(rgb.grad).all()
    lab = torch.tensor([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [100.0, 0.0, 0.0]], dtype=torch.float64)
    lab.requires_grad_()
    lab_to_rgb(lab, dim=-1, clip=False).sum().backward()
    assert torch.isfinite(lab.grad).all()


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def test_check_rgb_rejects_0_255_floats_with_a_hint():
    with pytest.raises(ValueError, match=r"255"):
        rgb_to_lab(rand(1, 3, 4, 4) * 255)


def test_check_rgb_rejects_uint8_with_a_hint():
    with pytest.raises(TypeError, match=r"\.float\(\) / 255"):
        check_rgb(torch.zeros(3, 4, 4, dtype=torch.uint8))


def test_check_rgb_other_errors():
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_rgb(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="3 channels"):
        check_rgb(torch.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match="dim=-1"):
        check_rgb(torch.zeros(10, 3))  # a colour list without dim=-1
    bad = rand(3, 4, 4)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        check_rgb(bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_rgb(rand(3, 4, 4) * 1.2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_rgb(rand(3, 4, 4) - 0.1)
    check_rgb(torch.full((3, 2, 2), 1 + 5e-5))  # float rounding within tolerance is accepted


def test_check_lab_errors():
    lab = rgb_to_lab(rand(1, 3, 4, 4))
    check_lab(lab)
    with pytest.raises(ValueError, match="unnormalize_l"):
        check_lab(torch.cat([normalize_l(lab[:, :1]), lab[:, 1:]], dim=1) - 1.0)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        lab_to_rgb(lab * 2)
    with pytest.raises(TypeError, match="floating"):
        lab_to_rgb(lab.long())
    with pytest.raises(ValueError, match="NaN"):
        check_lab(torch.full((3, 2, 2), float("inf")))


def test_lab_to_rgb_clip():
    lab = torch.tensor([[50.0, 100.0, -100.0], [90.0, -90.0, 90.0]], dtype=torch.float64)  # out of gamut
    raw = lab_to_rgb(lab, dim=-1, clip=False)
    assert (raw < 0).any() or (raw > 1).any()
    clipped = lab_to_rgb(lab, dim=-1)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert torch.equal(clipped, raw.clamp(0, 1))


# ---------------------------------------------------------------------------------------------
# Normalisation and conveniences
# ---------------------------------------------------------------------------------------------


def test_normalisation_constants_and_round_trips():
    assert (L_CENT, L_NORM, AB_NORM) == (50.0, 100.0, 110.0)  # Zhang et al., BaseColor
    L = torch.tensor([0.0, 50.0, 100.0])
    assert torch.equal(normalize_l(L), torch.tensor([-0.5, 0.0, 0.5]))
    assert torch.equal(unnormalize_l(normalize_l(L)), L)
    ab = torch.tensor([-110.0, 0.0, 55.0])
    assert torch.equal(normalize_ab(ab), torch.tensor([-1.0, 0.0, 0.5]))
    assert torch.allclose(unnormalize_ab(normalize_ab(ab)), ab)


def test_rgb_to_l_ab_and_back():
    rgb = rand(2, 3, 6, 7, seed=5)
    L, ab = rgb_to_l_ab(rgb)
    assert L.shape == (2, 1, 6, 7) and ab.shape == (2, 2, 6, 7)
    assert torch.equal(torch.cat([L, ab], 1), rgb_to_lab(rgb))
    assert (l_ab_to_rgb(L, ab) - rgb).abs().max() < 1e-9
    L1, ab1 = rgb_to_l_ab(rgb[0])
    assert L1.shape == (1, 6, 7) and ab1.shape == (2, 6, 7)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        l_ab_to_rgb(L, ab[:, :1])
    with pytest.raises(ValueError, match="agree"):
        l_ab_to_rgb(L, ab[:, :, :3])


def test_gray_rgb_is_neutral_and_keeps_lightness():
    rgb = rand(2, 3, 5, 5, seed=6)
    grey = gray_rgb(rgb)
    assert grey.shape == rgb.shape
    assert (grey.max(1).values - grey.min(1).values).max() < 1e-3  # R = G = B
    assert (rgb_to_lab(grey)[:, 0] - rgb_to_lab(rgb)[:, 0]).abs().max() < 1e-2  # same L
    assert (rgb_to_lab(grey)[:, 1:]).abs().max() < 1e-2


# ---------------------------------------------------------------------------------------------
# Colourfulness (Hasler & Suesstrunk 2003)
# ---------------------------------------------------------------------------------------------


def test_colorfulness_known_values():
    grey = torch.full((1, 3, 4, 4), 0.4)
    # half red, half green: rg = +-255 (mean 0, std 255), yb = 127.5 everywhere -> 255 + 0.3 * 127.5
    red_green = torch.zeros(1, 3, 4, 4)
    red_green[0, 0, :2] = 1.0
    red_green[0, 1, 2:] = 1.0
    # constant pure red: std 0, mean (rg, yb) = (255, 127.5)
    red = torch.zeros(1, 3, 4, 4)
    red[0, 0] = 1.0
    m = colorfulness(torch.cat([grey, red_green, red]))
    assert m.shape == (3,)
    expected = torch.tensor([0.0, 255 + 0.3 * 127.5, 0.3 * (255**2 + 127.5**2) ** 0.5])
    assert torch.allclose(m, expected, atol=1e-3)
    assert colorfulness(red[0]).shape == ()


def test_colorfulness_drops_when_desaturated():
    rgb = rand(4, 3, 8, 8, seed=7, dtype=torch.float32)
    half = 0.5 * rgb + 0.5 * gray_rgb(rgb)
    assert (colorfulness(half) < colorfulness(rgb)).all()
    assert colorfulness(gray_rgb(rgb)).max() < 0.1
    with pytest.raises(ValueError, match="255"):
        colorfulness(rgb * 255)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    rgb = rand(2, 3, 16, 16)
    lab = rgb_to_lab(rgb.cuda())
    assert lab.device.type == "cuda"
    assert torch.allclose(lab.cpu(), rgb_to_lab(rgb), atol=1e-9)
    assert torch.allclose(lab_to_rgb(lab).cpu(), rgb, atol=1e-9)
