"""Tests of Chapter 7's global colour-transfer baseline, Welsh et al. 2002 (reprolib.chapters.exemplar.transfer)."""

from __future__ import annotations

import pytest
import torch

from reprolib.chapters.exemplar import transfer as tr
from reprolib.color import rgb_to_l_ab
from reprolib.data import ColorWorld


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _textured(n: int, size: int, seed: int) -> torch.Tensor:
    """(n, 1, size, size) L in [0, 100] with smooth structure and noise."""
    g = _gen(seed)
    coarse = torch.rand(n, 1, 4, 4, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (100 * (0.8 * smooth + 0.2 * torch.rand(n, 1, size, size, generator=g))).clamp(0, 100)


@pytest.fixture(scope="module")
def scenes():
    L, ab = rgb_to_l_ab(ColorWorld(n=4, size=32, seed=0).batch(range(4))["rgb"])
    return L, ab


def test_constants_are_the_papers():
    assert tr.WELSH_SAMPLES == 200 and tr.WELSH_WINDOW == 5 and tr.WELSH_WEIGHTS == (0.5, 0.5)


@pytest.mark.parametrize("flat_reference", [False, True])
def test_a_uniform_colour_reference_gives_that_colour_everywhere(flat_reference):
    L_t = _textured(2, 24, seed=1)
    L_r = torch.full((2, 1, 20, 28), 60.0) if flat_reference else _textured(2, 20, seed=2)
    colour = torch.tensor([12.5, -7.25])
    ab_r = colour.view(1, 2, 1, 1).expand(2, 2, *L_r.shape[2:]).clone()
    ab = tr.welsh_transfer(L_t, L_r, ab_r, generator=_gen(0))
    assert ab.shape == (2, 2, 24, 24)
    assert torch.allclose(ab, colour.view(1, 2, 1, 1).expand_as(ab), atol=1e-5)


@pytest.mark.parametrize("levels", [(25.0, 80.0), (60.0, 95.0)])
def test_dark_and_bright_regions_take_the_colours_of_the_references_dark_and_bright_regions(levels):
    # Reference: left half dark and red-ish, right half bright and blue-ish. Target: top dark, bottom bright (a
    # different layout, so only the luminance statistics can carry the colours across). With levels (60, 95) the
    # target's dark half is nearer in raw L to the reference's bright half (70): only the luminance remapping
    # (30 -> 60, 70 -> 95) gets it right.
    dark, bright = torch.tensor([40.0, 20.0]), torch.tensor([-30.0, -40.0])
    L_r = torch.full((1, 1, 32, 32), 30.0)
    L_r[..., 16:] = 70.0
    ab_r = torch.empty(1, 2, 32, 32)
    ab_r[..., :16] = dark.view(1, 2, 1, 1)
    ab_r[..., 16:] = bright.view(1, 2, 1, 1)
    L_t = torch.full((1, 1, 40, 40), levels[0])
    L_t[..., 20:, :] = levels[1]
    ab = tr.welsh_transfer(L_t, L_r, ab_r, generator=_gen(3))
    margin = tr.WELSH_WINDOW // 2 + 1  # pixels whose 5 x 5 neighbourhood is flat
    top, bottom = ab[0, :, : 20 - margin], ab[0, :, 20 + margin :]
    assert torch.allclose(top, dark.view(2, 1, 1).expand_as(top))
    assert torch.allclose(bottom, bright.view(2, 1, 1).expand_as(bottom))
    # Control: swapping the reference's colours swaps the result, so the test can tell the regions apart.
    swapped = tr.welsh_transfer(L_t, L_r, ab_r.flip(-1), generator=_gen(3))
    assert torch.allclose(swapped[0, :, : 20 - margin], bright.view(2, 1, 1).expand_as(top))


def test_luminance_remapping_matches_the_targets_mean_and_std():
    L_r, L_t = _textured(3, 20, seed=4) * 0.5, _textured(3, 28, seed=5)
    remapped = tr.remap_luminance(L_r.double(), L_t.double())
    std, mean = torch.std_mean(remapped, dim=(1, 2, 3), correction=0)
    std_t, mean_t = torch.std_mean(L_t.double(), dim=(1, 2, 3), correction=0)
    assert torch.allclose(mean, mean_t, atol=1e-4) and torch.allclose(std, std_t, atol=1e-4)
    # It is linear and increasing: the order of the pixels is kept.
    assert torch.equal(remapped.flatten(1).argsort(stable=True), L_r.double().flatten(1).argsort(stable=True))
    # A flat reference goes to the target's mean instead of dividing by zero.
    flat = tr.remap_luminance(torch.full((3, 1, 5, 5), 42.0), L_t)
    assert torch.allclose(flat, mean_t.float().view(3, 1, 1, 1).expand_as(flat), atol=1e-4)


def test_matching_features_are_luminance_and_local_std():
    L = _textured(1, 12, seed=6).double()
    f = tr.matching_features(L, 5)
    assert f.shape == (1, 144, 2)
    assert torch.equal(f[0, :, 0], L.flatten())
    y, x = 6, 7  # an interior pixel: its 5 x 5 window needs no padding
    expected = L[0, 0, y - 2 : y + 3, x - 2 : x + 3].std(correction=0)
    assert torch.allclose(f[0, y * 12 + x, 1], expected, atol=1e-7)
    flat = tr.matching_features(torch.full((1, 1, 6, 6), 53.7, dtype=torch.float64), 5)[..., 1]
    assert torch.allclose(flat, torch.zeros(1, 36, dtype=torch.float64), atol=1e-5)
    # At the border the edge pixels are repeated: a corner's window holds the corner 9 times.
    padded = torch.nn.functional.pad(L, (2, 2, 2, 2), mode="replicate")
    assert torch.allclose(f[0, 0, 1], padded[0, 0, :5, :5].std(correction=0), atol=1e-9)
    assert torch.allclose(tr.matching_features(L, 1)[..., 1], torch.zeros(1, 144, dtype=torch.float64))


def test_nearest_samples_uses_the_weighted_l1_distance():
    ft = torch.tensor([[[50.0, 0.0]]])
    # Weighted L1 (0.5 |dL| + 0.5 |dstd|): sample 0 at 0.5 * 6 = 3.0 beats sample 1 at 0.5 * (4 + 4) = 4.0, though
    # the squared distance would prefer sample 1 (36 / 2 = 18 against 32 / 2 = 16).
    fs = torch.tensor([[[56.0, 0.0], [54.0, 4.0]]])
    assert tr.nearest_samples(ft, fs).tolist() == [[0]]
    assert tr.nearest_samples(ft, fs, weights=(0.0, 1.0)).tolist() == [[0]]
    assert tr.nearest_samples(ft, fs, weights=(1.0, 0.0)).tolist() == [[1]]
    assert tr.nearest_samples(ft, torch.tensor([[[52.0, 0.0], [48.0, 0.0]]])).tolist() == [[0]]  # tie: lowest index


def test_jittered_samples_cover_the_grid():
    rows, cols = tr.grid_shape(48, 48, 200)
    assert (rows, cols) == (14, 14)
    picks = tr.jittered_samples(48, 48, 200, batch=3, generator=_gen(7))
    assert picks.shape == (3, 196) and picks.dtype == torch.long
    y, x = picks // 48, picks % 48
    edges = torch.arange(15) * 48 // 14  # cell i spans [edges[i], edges[i + 1])
    cell_y, cell_x = torch.searchsorted(edges, y, right=True) - 1, torch.searchsorted(edges, x, right=True) - 1
    assert torch.equal(cell_y, torch.arange(rows).repeat_interleave(cols).expand_as(y))
    assert torch.equal(cell_x, torch.arange(cols).repeat(rows).expand_as(x))
    assert len(set(picks[0].tolist())) == 196 and not torch.equal(picks[0], picks[1])  # each image its own draw
    assert tr.grid_shape(3, 5, 200) == (3, 5)  # more samples than pixels: every pixel
    assert sorted(tr.jittered_samples(3, 5, 200, generator=_gen(0))[0].tolist()) == list(range(15))
    assert tr.grid_shape(7, 9, 1) == (1, 1)


def test_returns_float32_ab_of_the_target_size_and_leaves_the_inputs_alone(scenes):
    L, ab = scenes
    L_t, L_r, ab_r = L.clone(), L.roll(1, 0).double(), ab.roll(1, 0).double()
    before = (L_t.clone(), L_r.clone(), ab_r.clone())
    out = tr.welsh_transfer(L_t, L_r[..., :28, :30], ab_r[..., :28, :30], generator=_gen(0))
    assert out.shape == (4, 2, 32, 32) and out.dtype == torch.float32
    assert all(torch.equal(a, b) for a, b in zip((L_t, L_r, ab_r), before, strict=True))


def test_the_same_seed_gives_the_same_result_and_another_seed_other_samples(scenes):
    L, ab = scenes
    args = (L, L.roll(1, 0), ab.roll(1, 0))
    assert torch.allclose(tr.welsh_transfer(*args, generator=_gen(11)), tr.welsh_transfer(*args, generator=_gen(11)))
    assert torch.equal(tr.jittered_samples(32, 32, 200, 4, _gen(11)), tr.jittered_samples(32, 32, 200, 4, _gen(11)))
    assert not torch.equal(tr.jittered_samples(32, 32, 200, 4, _gen(11)), tr.jittered_samples(32, 32, 200, 4, _gen(12)))
    torch.manual_seed(0)
    first = tr.jittered_samples(32, 32)
    torch.manual_seed(0)
    assert torch.equal(first, tr.jittered_samples(32, 32))  # without a generator: the global one


@pytest.mark.parametrize("data", ["scenes", "textured"])
def test_a_batch_gives_what_its_images_give_one_at_a_time(scenes, data):
    if data == "scenes":
        L, ab = scenes
        L_t, L_r, ab_r = L, L.roll(1, 0), ab.roll(1, 0)
    else:
        L_t, L_r = _textured(5, 24, seed=8), _textured(5, 20, seed=9)
        ab_r = torch.rand(5, 2, 20, 20, generator=_gen(10)) * 160 - 80
    batch = tr.welsh_transfer(L_t, L_r, ab_r, generator=_gen(13))
    g = _gen(13)  # one generator for the sequence of single images: image i uses its i-th draw
    single = torch.cat([tr.welsh_transfer(L_t[i : i + 1], L_r[i : i + 1], ab_r[i : i + 1], generator=g)
                        for i in range(len(L_t))])
    assert torch.allclose(batch, single, atol=1e-5)
    # Chunked distances (a few images at a time) agree with the whole batch at once.
    old = tr._CHUNK
    try:
        tr._CHUNK = 1
        assert torch.allclose(tr.welsh_transfer(L_t, L_r, ab_r, generator=_gen(13)), batch, atol=1e-5)
    finally:
        tr._CHUNK = old


def test_colorworld_scenes_get_finite_colours_from_their_reference(scenes):
    L, ab = scenes
    ab_r = ab.roll(1, 0)
    out = tr.welsh_transfer(L, L.roll(1, 0), ab_r, generator=_gen(14))
    assert bool(torch.isfinite(out).all())
    lo, hi = ab_r.amin(dim=(2, 3), keepdim=True), ab_r.amax(dim=(2, 3), keepdim=True)
    assert bool(((out >= lo - 1e-4) & (out <= hi + 1e-4)).all())
    # Every output colour is one of the reference's pixels' colours (a copy, not a blend).
    for i in range(4):
        dist = torch.cdist(out[i].flatten(1).T, ab_r[i].flatten(1).T,  # (target pixels, reference pixels)
                           compute_mode="donot_use_mm_for_euclid_dist")
        assert float(dist.min(dim=1).values.max()) < 1e-3
    # The scenes are not all one colour: the transfer really varies across the image.
    assert float(out.flatten(2).std(dim=2).mean()) > 1.0


_L = torch.full((2, 1, 8, 8), 50.0)
_AB = torch.zeros(2, 2, 8, 8)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"L_t": _L[:, :, 0]}, ValueError, r"L_t .*\(N, 1, H, W\).*got shape \(2, 1, 8\)"),
    ({"L_t": torch.zeros(2, 3, 8, 8)}, ValueError, r"L_t .*\(N, 1, H, W\)"),
    ({"L_r": _L.numpy()}, ValueError, r"L_r .*\(N, 1, H, W\).*got a ndarray"),
    ({"ab_r": _AB[:, :1]}, ValueError, r"ab_r .*\(N, 2, H, W\)"),
    ({"L_t": _L.long()}, TypeError, r"L_t .*floating-point.*torch.int64"),
    ({"ab_r": _AB[..., :7]}, ValueError, r"same H and W"),
    ({"L_r": _L[:1], "ab_r": _AB[:1]}, ValueError, r"same number of images N.*2, 1 and 1"),
    ({"L_t": _L[:0]}, ValueError, r"at least one image"),
    ({"L_t": _L * 2.5}, ValueError, r"L_t .*\[125, 125\].*must be in \[0, 100\]"),
    ({"L_r": _L / 100 - 0.6}, ValueError, r"L_r .*must be in \[0, 100\].*unnormalize_l"),
    ({"ab_r": _AB + float("nan")}, ValueError, r"ab_r .*NaN or inf"),
    ({"samples": 0}, ValueError, r"samples must be an integer >= 1.*got 0"),
    ({"samples": 2.5}, ValueError, r"samples must be an integer >= 1.*got 2.5"),
    ({"window": 4}, ValueError, r"window must be odd.*got 4"),
    ({"window": 0}, ValueError, r"window must be an integer >= 1.*got 0"),
    ({"window": True}, ValueError, r"window must be an integer >= 1.*got True"),
    ({"generator": 0}, TypeError, r"generator must be a torch.Generator or None, got int"),
])
def test_bad_input_gets_a_clear_error(kwargs, error, message):
    args = {"L_t": _L, "L_r": _L, "ab_r": _AB} | kwargs
    with pytest.raises(error, match=message):
        tr.welsh_transfer(**args)


def test_the_helpers_check_their_arguments_too():
    with pytest.raises(ValueError, match=r"same number of images N"):
        tr.remap_luminance(_L, _L[:1])
    with pytest.raises(ValueError, match=r"window must be odd"):
        tr.matching_features(_L, 2)
    with pytest.raises(ValueError, match=r"height must be an integer >= 1"):
        tr.grid_shape(0, 5, 10)
    with pytest.raises(ValueError, match=r"batch must be an integer >= 1"):
        tr.jittered_samples(5, 5, 10, batch=0)
    with pytest.raises(ValueError, match=r"features_s must be a floating \(N, points, 2\)"):
        tr.nearest_samples(torch.zeros(1, 3, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"weights must be two non-negative"):
        tr.nearest_samples(torch.zeros(1, 3, 2), torch.zeros(1, 4, 2), weights=(0.5, -1.0))
