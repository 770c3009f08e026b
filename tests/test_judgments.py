"""Tests of reprolib.chapters.lpips.judgments: 2AFC and JND sets whose answers are known by construction."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from reprolib.data.patches import colorworld_patches
from reprolib.chapters.lpips.distortions import DISTORTIONS, GROUPS, families
from reprolib.chapters.lpips.judgments import (
    BENIGN_FAMILIES,
    DAMAGING_FAMILIES,
    EQUAL_MSE_TOLERANCE,
    equal_mse_2afc,
    mixed_2afc,
    sentinel_2afc,
    sentinel_jnd,
    solve_severity,
    split_families,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def refs():
    return colorworld_patches(16, size=32, seed=4)


def two_afc_accuracy(d0, d1, judge):
    """The BAPPS 2AFC credit (reference-facts 5.3): agreement with the fraction of observers."""
    d0, d1, judge = (torch.as_tensor(v, dtype=torch.float64) for v in (d0, d1, judge))
    return float(((d0 < d1) * (1 - judge) + (d1 < d0) * judge + 0.5 * (d0 == d1)).mean())


def ssim(a, b):
    return np.array([structural_similarity(x.permute(1, 2, 0).numpy(), y.permute(1, 2, 0).numpy(),
                                           channel_axis=2, data_range=1.0) for x, y in zip(a, b)])


# ---------------------------------------------------------------------------------------------------
# Held-out families
# ---------------------------------------------------------------------------------------------------


def test_split_families_by_family_and_group():
    train, held = split_families(["spatial", "jpeg"])
    assert set(held) == set(families("spatial")) | {"jpeg"}
    assert not set(train) & set(held)
    assert sorted(train + held) == sorted(DISTORTIONS)
    train, held = split_families(["bilateral"], families=["gaussian_blur", "bilateral", "shift"])
    assert train == ["gaussian_blur", "shift"] and held == ["bilateral"]


def test_split_families_errors():
    with pytest.raises(ValueError, match="unknown family or group 'warp'; families are"):
        split_families(["warp"])
    with pytest.raises(ValueError, match="both sides"):
        split_families(list(GROUPS))
    with pytest.raises(ValueError, match="not among the families being split"):
        split_families(["jpeg"], families=["shift", "gaussian_blur"])
    with pytest.raises(TypeError, match="sequence"):
        split_families("jpeg")


# ---------------------------------------------------------------------------------------------------
# Sentinels
# ---------------------------------------------------------------------------------------------------


def test_sentinel_labels_are_right_by_construction(refs):
    s = sentinel_2afc(refs, gen(1))
    assert len(s) == len(refs) and s.kind == "sentinel" and s.has_answers
    assert set(s.judge.tolist()) <= {0.0, 1.0} and 0 < float(s.judge.mean()) < 1  # both sides used
    assert s.family0 == s.family1
    sev0 = torch.tensor([v[0] for v in s.sev0])
    sev1 = torch.tensor([v[0] for v in s.sev1])
    # judge = 1 exactly where p1 is the weaker version, by at least the max_ratio factor
    assert torch.equal(s.judge.bool(), sev1 < sev0)
    assert (torch.minimum(sev0, sev1) <= 0.3 * torch.maximum(sev0, sev1) + 1e-12).all()
    assert torch.equal(s.ref, refs[s.index])
    # so every sane metric gets them right: L2 does
    assert two_afc_accuracy(s.mse0, s.mse1, s.judge) == 1.0


def test_sentinel_sides_share_one_random_draw(refs):
    s = sentinel_2afc(refs, gen(2), families=["gaussian_noise"])
    n0, n1 = (s.p0 - s.ref).flatten(1).double(), (s.p1 - s.ref).flatten(1).double()
    corr = (n0 * n1).sum(1) / (n0.norm(dim=1) * n1.norm(dim=1))
    assert (corr > 0.9).all()  # the same noise field at two strengths (clipping aside)


def test_sentinel_held_out_families_never_appear(refs):
    train, held = split_families(["noise", "jpeg"])
    s = sentinel_2afc(refs, gen(3), families=train)
    assert set(s.family0) <= set(train) and not set(s.family0) & set(held)
    t = sentinel_2afc(refs, gen(3), exclude=train)
    assert set(t.family0) <= set(held)
    with pytest.raises(ValueError, match="no family is left"):
        sentinel_2afc(refs, gen(), families=["jpeg"], exclude=["jpeg"])
    with pytest.raises(ValueError, match="known distortions are"):
        sentinel_2afc(refs, gen(), families=["jpg"])


def test_sentinel_drops_flat_references():
    flat = torch.full((2, 3, 16, 16), 0.5)
    mixed = torch.cat([colorworld_patches(2, size=32, seed=0)[..., :16, :16], flat])
    s = sentinel_2afc(mixed, gen(), families=["gaussian_blur"])  # blurring a flat patch changes nothing
    assert s.index.tolist() == [0, 1] and s.info["dropped"] == [2, 3]


# ---------------------------------------------------------------------------------------------------
# Equal MSE
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BENIGN_FAMILIES + DAMAGING_FAMILIES))
def test_solve_severity_hits_the_target_mse(name, refs):
    target = torch.full((4,), 10 ** (-2.8))  # PSNR 28 dB
    s, img, ok = solve_severity(refs[:4], name, target, gen())
    assert ok.all() and ((s > 0) & (s <= 1)).all()
    got = ((img.double() - refs[:4].double()) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(got, target.double(), rtol=0.005)


def test_solve_severity_reports_unreachable_targets():
    flat = torch.full((1, 3, 16, 16), 0.5)
    s, img, ok = solve_severity(flat, "gaussian_blur", 1e-3, gen())
    assert not ok.any() and torch.equal(img, flat)


def test_equal_mse_construction(refs):
    e = equal_mse_2afc(refs, gen(5))
    assert e.kind == "equal_mse" and len(e) >= 12  # ColorWorld scenes are rarely rejected
    rel = (e.mse0 - e.mse1).abs() / torch.maximum(e.mse0, e.mse1)
    assert float(rel.max()) <= EQUAL_MSE_TOLERANCE
    psnr = -10 * torch.log10((e.mse0 + e.mse1) / 2)
    assert float(psnr.min()) > 24 - 0.1 and float(psnr.max()) < 30 + 0.1
    for f0, f1, j in zip(e.family0, e.family1, e.judge.tolist()):
        closer, farther = (f1, f0) if j == 1.0 else (f0, f1)
        assert closer in BENIGN_FAMILIES and farther in DAMAGING_FAMILIES
    assert 0 < float(e.judge.mean()) < 1


def test_equal_mse_answers_agree_with_ssim_not_with_l2(refs):
    e = equal_mse_2afc(refs, gen(6))
    # structure-aware SSIM (Wang et al. 2004) sees the answer ...
    assert two_afc_accuracy(-ssim(e.ref, e.p0), -ssim(e.ref, e.p1), e.judge) >= 0.9
    # ... while L2 cannot: its two distances differ by at most 2 %, far less than SSIM's gap
    gap_l2 = ((e.mse0 - e.mse1).abs() / torch.maximum(e.mse0, e.mse1)).max()
    s0, s1 = 1 - ssim(e.ref, e.p0), 1 - ssim(e.ref, e.p1)
    gap_ssim = np.median(np.abs(s0 - s1) / np.maximum(s0, s1))
    assert float(gap_l2) < 0.1 * gap_ssim


def test_equal_mse_errors(refs):
    with pytest.raises(ValueError, match="must differ"):
        equal_mse_2afc(refs, gen(), benign=["jpeg"], damaging=["jpeg"])
    with pytest.raises(ValueError, match="psnr must be a range"):
        equal_mse_2afc(refs, gen(), psnr=(30, 20))


# ---------------------------------------------------------------------------------------------------
# Mixed (no answer) and JND
# ---------------------------------------------------------------------------------------------------


def test_mixed_has_no_answer(refs):
    m = mixed_2afc(refs[:6], gen(7))
    assert m.judge is None and not m.has_answers and "agreement" in m.info["note"]
    assert len(m) == 6 and m.p0.shape == refs[:6].shape
    always = mixed_2afc(refs[:4], gen(7), compose_prob=1.0)
    assert all(len(f.split("+")) == 2 and len(v) == 2 for f, v in zip(always.family0, always.sev0))
    never = mixed_2afc(refs[:4], gen(7), compose_prob=0.0, families=["shift", "jpeg"])
    assert all(f in ("shift", "jpeg") for f in never.family0 + never.family1)


def test_jnd_sentinels(refs):
    j = sentinel_jnd(refs, gen(8))
    counts = torch.bincount(j.level, minlength=3).tolist()
    assert counts == [round(0.4 * 16), round(0.3 * 16), 16 - round(0.4 * 16) - round(0.3 * 16)]
    identical, near, obvious = (j.level == k for k in range(3))
    assert torch.equal(j.p[identical], j.ref[identical]) and (j.same[identical] == 1).all()
    assert (j.same[obvious] == 0).all()
    assert {j.family[i] for i in obvious.nonzero().flatten().tolist()} == {"gaussian_noise"}
    assert torch.isnan(j.same[near]).all() and torch.equal(j.known, ~near)
    near_psnr = -10 * torch.log10(j.mse[near])
    assert float(near_psnr.min()) > 36 - 0.1 and float(near_psnr.max()) < 44 + 0.1
    # the levels are ordered by construction: 0 < near < obvious in MSE
    assert float(j.mse[near].max()) < float(j.mse[obvious].min())


def test_lpips_inputs_and_subset(refs):
    s = sentinel_2afc(refs[:6], gen(9))
    ref, p0, p1 = s.lpips_inputs()
    assert float(ref.min()) >= -1 and float(ref.max()) <= 1 and torch.allclose((ref + 1) / 2, s.ref)
    sub = s.subset(s.judge.bool())
    assert len(sub) == int(s.judge.sum()) and (sub.judge == 1).all()
    assert torch.equal(sub.p1, s.p1[s.judge.bool()])


@pytest.mark.parametrize("build", [sentinel_2afc, equal_mse_2afc, mixed_2afc, sentinel_jnd])
def test_same_seed_same_set(build, refs):
    a, b = build(refs[:5], gen(10)), build(refs[:5], gen(10))
    tensors = ("ref", "p0", "p1") if hasattr(a, "p0") else ("ref", "p")
    for name in tensors:
        assert torch.equal(getattr(a, name), getattr(b, name))
    c = build(refs[:5], gen(11))
    assert any(not torch.equal(getattr(a, n), getattr(c, n)) for n in tensors[1:])


@pytest.mark.parametrize("build", [sentinel_2afc, equal_mse_2afc, mixed_2afc, sentinel_jnd])
def test_input_errors(build, refs):
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        build(refs[0], gen())
    with pytest.raises(TypeError, match="torch.Generator"):
        build(refs, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        build(2 * refs - 1, gen())


def test_jnd_fraction_errors(refs):
    with pytest.raises(ValueError, match="summing to 1"):
        sentinel_jnd(refs, gen(), fractions=(0.5, 0.5, 0.5))
    assert math.isnan(float(sentinel_jnd(refs[:2], gen(), fractions=(0, 1, 0)).same[0]))
