"""Tests of reprolib.data.colorworld: determinism, contracts, and the known colour distribution."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from skimage.color import rgb2lab

from reprolib.data import DEFAULT_CLASSES, GROUND, SKY, ColorClass, ColorWorld
from reprolib.data.colorworld import AB_JITTER_MAX, AB_NOISE


def lab_of(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> Lab with scikit-image, an independent reference for the package's own maths."""
    return torch.from_numpy(rgb2lab(rgb.permute(0, 2, 3, 1).double().numpy())).permute(0, 3, 1, 2)


@pytest.fixture(scope="module")
def world():
    return ColorWorld(200, size=48, seed=3)


@pytest.fixture(scope="module")
def rendered(world):
    return world.batch(range(48), return_lab=True)


def test_shapes_dtypes_and_ranges(world, rendered):
    n, m, s, k = 48, world.max_objects, 48, world.num_classes
    b = rendered
    assert b["rgb"].shape == (n, 3, s, s) and b["rgb"].dtype == torch.float32
    assert float(b["rgb"].min()) >= 0.0 and float(b["rgb"].max()) <= 1.0
    assert b["masks"].shape == (n, m, s, s) and b["masks"].dtype == torch.bool
    for key in ("classes", "modes"):
        assert b[key].shape == (n, m) and b[key].dtype == torch.long
    assert b["background"].shape == (n, s, s) and set(b["background"].unique().tolist()) <= {0, 1}
    assert b["background_modes"].shape == (n, 2)
    assert torch.equal(b["label"], b["classes"][:, 0])
    assert bool(((b["classes"] >= -1) & (b["classes"] < k)).all())
    # a mode exists exactly when the object does, and indexes one of its class's modes
    assert torch.equal(b["modes"] >= 0, b["classes"] >= 0)
    for c, mo in zip(b["classes"][b["classes"] >= 0].tolist(), b["modes"][b["modes"] >= 0].tolist()):
        assert 0 <= mo < world.classes[c].num_modes
    assert bool((b["background_modes"][:, 0] < SKY.num_modes).all())
    assert bool((b["background_modes"][:, 1] < GROUND.num_modes).all())


def test_item_equals_batch_row_whatever_the_batch():
    ds = ColorWorld(50, size=37, seed=11)  # an odd size: rows do not align with SIMD widths
    batch = ds.batch([40, 7, 3, 19, 7])
    other = ds.batch(list(range(0, 50, 2)) + [7])
    for pos, i in enumerate([40, 7, 3, 19]):
        item = ds[i]
        assert item["index"] == i and item["label"] == int(batch["label"][pos])
        for key in ("classes", "modes", "background", "background_modes"):
            assert torch.equal(item[key], batch[key][pos]), key
        assert _mask_pixels_apart(item["masks"], batch["masks"][pos]) <= 2
        assert float((item["rgb"] - batch["rgb"][pos]).abs().max()) <= 1e-5
    assert float((other["rgb"][-1] - batch["rgb"][1]).abs().max()) <= 1e-5
    assert _mask_pixels_apart(other["masks"][-1], batch["masks"][1]) <= 2


def _mask_pixels_apart(a: torch.Tensor, b: torch.Tensor) -> int:
    """Pixels where two renderings of one scene's masks disagree. The window a batch draws an object in is
    sized by the largest object of its class in that batch, so a pixel sits at another place in the
    vector and may get the scalar-tail atan2 instead of the vectorised one (about 2 ulp apart, 4.8e-7 rad).
    The flower's edge r = 0.62 + 0.38 cos(5 theta) then moves by < 1e-6 of the object's radius: only a pixel
    within that of the edge can flip, about 3e-4 expected per window (none seen in 3000 scenes), so 2 is
    generous and still catches any real difference (a shifted or missing object changes dozens)."""
    assert a.shape == b.shape
    return int((a != b).sum())


def test_same_seed_same_images_and_other_seed_differs():
    a = ColorWorld(8, size=32, seed=5).batch(range(8))
    b = ColorWorld(8, size=32, seed=5).batch(range(8))
    c = ColorWorld(8, size=32, seed=6).batch(range(8))
    assert torch.equal(a["rgb"], b["rgb"]) and torch.equal(a["masks"], b["masks"])
    # every image differs under another seed (they share nothing but the generator)
    assert bool(((a["rgb"] - c["rgb"]).abs().flatten(1).max(1).values > 0.1).all())


def test_masks_are_disjoint_and_match_classes(rendered):
    masks, classes = rendered["masks"], rendered["classes"]
    assert int(masks.sum(1).max()) <= 1  # one owner per pixel
    assert torch.equal(masks.flatten(2).any(-1), classes >= 0)  # a class exactly when pixels are visible
    cover = masks[:, 0].float().mean((1, 2))  # the primary object is drawn on top: fully visible
    assert float(cover.min()) > 0.10 and float(cover.max()) < 0.40
    others = masks[:, 1:].float().mean((2, 3))
    assert bool((cover > others.max(1).values).all())  # the primary is the largest object


def test_object_pixels_have_their_class_luminance_and_mode_colour(world, rendered):
    """Checked on the RGB output converted back with scikit-image (independent of reprolib.color)."""
    lab = lab_of(rendered["rgb"])
    worst = AB_JITTER_MAX + 2.5 * AB_NOISE * math.sqrt(2) + 0.5  # jitter + per-pixel noise + round-off
    for n, j in (rendered["classes"] >= 0).nonzero().tolist():
        cc = world.classes[int(rendered["classes"][n, j])]
        pix = lab[n][:, rendered["masks"][n, j]]  # (3, P)
        lo, hi = cc.l_range
        assert float(pix[0].min()) >= lo - 0.05 and float(pix[0].max()) <= hi + 0.05, cc.name
        mode = torch.tensor(cc.modes[int(rendered["modes"][n, j])], dtype=torch.float64)
        dist = (pix[1:] - mode[:, None]).norm(dim=0)
        assert float(dist.max()) <= worst, (cc.name, float(dist.max()))
        assert float((pix[1:].mean(1) - mode).norm()) <= AB_JITTER_MAX + 1.0


def test_background_colour_follows_its_drawn_mode(rendered):
    lab = lab_of(rendered["rgb"])
    free = ~rendered["masks"].any(1)
    for n in range(8):
        for region, bg in enumerate((SKY, GROUND)):
            sel = free[n] & (rendered["background"][n] == region)
            if int(sel.sum()) < 20:
                continue
            mode = torch.tensor(bg.modes[int(rendered["background_modes"][n, region])], dtype=torch.float64)
            assert float((lab[n][1:, sel].mean(1) - mode).norm()) <= AB_JITTER_MAX + 1.0
            lo, hi = bg.l_range
            assert lo - 0.05 <= float(lab[n][0, sel].min()) and float(lab[n][0, sel].max()) <= hi + 0.05


def test_grey_image_does_not_depend_on_the_drawn_modes():
    ds = ColorWorld(64, size=40, seed=2)
    params = ds.sample_params(range(24))
    r0 = ds.render(params, mode_override=0, background_mode_override=0, return_lab=True)
    r1 = ds.render(params, mode_override=1, background_mode_override=1, return_lab=True)
    assert torch.equal(r0["lab"][:, 0], r1["lab"][:, 0])  # the rendered L is bit-identical
    assert torch.equal(r0["masks"], r1["masks"])
    # and so is the luminance of the RGB images (no pixel is clipped by the gamut)
    assert float((lab_of(r0["rgb"])[:, 0] - lab_of(r1["rgb"])[:, 0]).abs().max()) < 0.02
    multimodal = torch.tensor([c.num_modes > 1 for c in ds.classes])
    changed = (r0["modes"] != r1["modes"]) & (r0["classes"] >= 0)
    assert torch.equal(changed, (r0["classes"] >= 0) & multimodal[r0["classes"].clamp_min(0)])
    assert float((r0["lab"][:, 1:] - r1["lab"][:, 1:]).abs().max()) > 30  # the colours did change


def test_empirical_mode_frequencies_match_class_probabilities():
    ds = ColorWorld(5000, size=32, seed=0)
    params = ds.sample_params(range(5000))  # the colour draw needs no rendering
    cls, modes = params.classes[params.classes >= 0], params.modes[params.classes >= 0]
    # classes are uniform over the K classes (primary objects alone, too)
    assert chisquare(torch.bincount(params.classes[:, 0], minlength=ds.num_classes).numpy()).pvalue > 1e-3
    for k, cc in enumerate(ds.classes):
        counts = torch.bincount(modes[cls == k], minlength=cc.num_modes).numpy()
        assert counts.sum() > 800
        if cc.num_modes > 1:
            expected = np.array(cc.probs) * counts.sum()
            assert chisquare(counts, expected).pvalue > 1e-3, (cc.name, counts, expected)
    ground = torch.bincount(params.background_modes[:, 1], minlength=2).numpy()
    assert chisquare(ground, np.array(GROUND.probs) * 5000).pvalue > 1e-3
    # the rendered labels report the same draws
    out = ds.batch(range(64))
    present = out["classes"] >= 0
    assert torch.equal(out["modes"][present], ds.sample_params(range(64)).modes[present])


def test_default_world_has_the_promised_structure():
    assert len(DEFAULT_CLASSES) == 8
    num_modes = [c.num_modes for c in DEFAULT_CLASSES]
    assert num_modes.count(1) >= 2 and sum(n > 1 for n in num_modes) >= 2
    assert min(min(c.probs) for c in DEFAULT_CLASSES) <= 0.1  # a rare mode exists
    assert len({(c.shape, c.texture) for c in DEFAULT_CLASSES}) == 8  # identifiable from luminance
    for c in DEFAULT_CLASSES:
        modes = torch.tensor(c.modes)
        if c.num_modes > 1:  # modes are well apart ...
            assert float(torch.pdist(modes).min()) >= 35
    # ... and for the car the mean colour (what an L2 regressor predicts) is off every mode
    car = next(c for c in DEFAULT_CLASSES if c.name == "car")
    mean = torch.tensor(car.mean_ab())
    assert float((torch.tensor(car.modes) - mean).norm(dim=1).min()) > 25
    assert float(mean.norm()) < min(float(torch.tensor(m).norm()) for m in car.modes)  # desaturated


def test_clipping_is_small():
    report = ColorWorld(64, size=48, seed=9).clipping_report(64)
    assert report["n_images"] == 64
    assert report["fraction"] < 0.01
    assert report["sky"] < 0.01 and report["ground"] < 0.01
    assert set(report["classes"]) == {c.name for c in DEFAULT_CLASSES}
    assert all(v < 0.01 for v in report["classes"].values() if not math.isnan(v))


def test_true_ab_distribution(world):
    for k, cc in enumerate(world.classes):
        modes, probs = world.true_ab_distribution(k)
        assert modes.shape == (cc.num_modes, 2) and probs.shape == (cc.num_modes,)
        assert torch.allclose(modes, torch.tensor(cc.modes)) and abs(float(probs.sum()) - 1) < 1e-6
    assert torch.equal(world.true_ab_distribution("apple")[0], world.true_ab_distribution(0)[0])
    modes, probs = world.true_background_distribution("ground")
    assert modes.shape == (2, 2) and torch.allclose(probs, torch.tensor(GROUND.probs))
    assert world.class_names[0] == "apple" and world.num_classes == 8
    with pytest.raises(ValueError, match="class_index"):
        world.true_ab_distribution(8)
    with pytest.raises(ValueError, match="unknown class"):
        world.true_ab_distribution("banana")


def test_same_scene_at_every_resolution():
    small = ColorWorld(10, size=32, seed=4).batch(range(10))
    large = ColorWorld(10, size=128, seed=4).batch(range(10))
    assert torch.equal(small["label"], large["label"])
    assert torch.equal(small["background_modes"], large["background_modes"])
    down = torch.nn.functional.avg_pool2d(large["masks"][:, 0].float().unsqueeze(1), 4).squeeze(1) > 0.5
    inter = (down & small["masks"][:, 0]).flatten(1).sum(1).float()
    union = (down | small["masks"][:, 0]).flatten(1).sum(1).float()
    assert float((inter / union).min()) > 0.85


def test_splits_are_different_streams():
    train, test = ColorWorld.splits(20, 10, size=32, seed=1)
    assert len(train) == 20 and len(test) == 10 and train.seed != test.seed
    a, b = train.batch(range(10)), test.batch(range(10))
    assert bool(((a["rgb"] - b["rgb"]).abs().flatten(1).max(1).values > 0.1).all())
    with pytest.raises(ValueError, match="seed"):
        ColorWorld.splits(1, 1, seed=2 ** 32)


@pytest.mark.parametrize("size", [31, 257, 0, 64.0, "64", True])
def test_size_is_validated(size):
    with pytest.raises(ValueError, match="size must be an integer from 32 to 256"):
        ColorWorld(4, size=size)


def test_extreme_sizes_render():
    for size in (32, 256):
        item = ColorWorld(2, size=size, seed=0)[1]
        assert item["rgb"].shape == (3, size, size)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="n must be"):
        ColorWorld(-1)
    with pytest.raises(ValueError, match="seed"):
        ColorWorld(4, seed=-3)
    with pytest.raises(ValueError, match="max_objects"):
        ColorWorld(4, max_objects=0)
    ds = ColorWorld(4, size=32)
    with pytest.raises(IndexError, match="out of range"):
        ds[4]
    with pytest.raises(IndexError, match="out of range"):
        ds.batch([0, 9])
    with pytest.raises(TypeError, match="int"):
        ds["0"]
    assert ds[-1]["index"] == 3


def test_color_class_validation_and_custom_classes():
    with pytest.raises(ValueError, match="sum to 1"):
        ColorClass("x", "disc", "smooth", (40, 60), ((10, 10), (0, 20)), (0.5, 0.6))
    with pytest.raises(ValueError, match="unknown shape"):
        ColorClass("x", "hexagon", "smooth", (40, 60), ((10, 10),), (1.0,))
    with pytest.raises(ValueError, match="one probability per mode"):
        ColorClass("x", "disc", "smooth", (40, 60), ((10, 10), (0, 20)), (1.0,))
    with pytest.raises(ValueError, match="l_range"):
        ColorClass("x", "disc", "smooth", (60, 40), ((10, 10),), (1.0,))
    two = [ColorClass("plum", "disc", "smooth", (40, 55), ((30, -20), (-20, 20)), (0.5, 0.5)),
           ColorClass("stone", "square", "noise", (40, 55), ((0, 0),), (1.0,))]
    ds = ColorWorld(30, size=32, classes=two, max_objects=2)
    out = ds.batch(range(30))
    assert out["masks"].shape[1] == 2 and set(out["label"].tolist()) <= {0, 1}
    assert ds.class_names == ["plum", "stone"]
    with pytest.raises(ValueError, match="unique"):
        ColorWorld(3, classes=[two[0], two[0]])


def test_works_with_a_dataloader():
    loader = torch.utils.data.DataLoader(ColorWorld(6, size=32), batch_size=4)
    first = next(iter(loader))
    assert first["rgb"].shape == (4, 3, 32, 32) and first["label"].shape == (4,)


def test_closed_form_shape_geometry_matches_the_rasterised_shapes():
    from reprolib.data.colorworld import _UNIT_GEOMETRY, SHAPES, _inside

    g = (torch.arange(600, dtype=torch.float64) + 0.5) / 600 * 2.4 - 1.2
    u, v = g.view(1, -1).expand(600, 600), g.view(-1, 1).expand(600, 600)
    for shape in SHAPES:
        area, radius = _UNIT_GEOMETRY[shape]
        inside = _inside(shape, u, v)
        assert abs(float(inside.double().mean()) * 2.4 ** 2 - area) < 0.01 * area, shape
        assert float(torch.sqrt(u * u + v * v)[inside].max()) <= radius + 1e-9, shape


def test_redraw_colours_keeps_the_grey_image_and_draws_modes_from_the_true_probabilities():
    from reprolib.data.oracle import redraw_colours

    cw = ColorWorld(n=8, size=32, seed=0)
    p = cw.sample_params(range(8))
    q = redraw_colours(cw, p, seed=1)
    a, b = cw.render(p, return_lab=True), cw.render(q, return_lab=True)
    # the luminance does not depend on anything redrawn: the same computation on the same inputs
    assert torch.allclose(a["lab"][:, 0], b["lab"][:, 0], atol=1e-4)
    assert (a["lab"][:, 1:] - b["lab"][:, 1:]).abs().max() > 10  # some object changed its mode
    assert torch.equal(q.classes, p.classes) and torch.equal((q.modes >= 0), (p.modes >= 0))
    assert torch.equal(redraw_colours(cw, p, seed=1).modes, q.modes)  # deterministic in the seed
    # frequencies over many scenes: within 4 binomial standard errors of each class's probabilities
    many = cw.sample_params(range(3000))
    redrawn = redraw_colours(cw, many, seed=2)
    for k, c in enumerate(cw.classes):
        sel = redrawn.modes[many.classes == k]
        for j, prob in enumerate(c.probs):
            freq = float((sel == j).double().mean())
            assert abs(freq - prob) <= 4 * (prob * (1 - prob) / len(sel)) ** 0.5 + 1e-12, (c.name, j, freq, prob)
    ground = redrawn.background_modes[:, 1].double()
    assert abs(float(ground.mean()) - 0.4) <= 4 * (0.24 / 3000) ** 0.5  # P(earth) = 0.4
    with pytest.raises(ValueError, match="seed"):
        redraw_colours(cw, p, seed=-1)
    with pytest.raises(TypeError, match="SceneParams"):
        redraw_colours(cw, {"modes": None}, seed=0)
