"""Tests of Chapter 7's training pairs, their alignment and the measures (reprolib.chapters.exemplar.pairs/measure)."""

from __future__ import annotations

import pytest
import torch

from reprolib.chapters.exemplar import measure as ms
from reprolib.chapters.exemplar import pairs as pr
from reprolib.data import ColorWorld
from reprolib.nn import vgg16_relu_x_1
from reprolib.nn.pretrained import pretrained_backbone


@pytest.fixture(scope="module")
def taps():
    return vgg16_relu_x_1(pretrained_backbone("vgg"))


@pytest.fixture(scope="module")
def world():
    return ColorWorld(n=96, size=32, seed=5)


@pytest.fixture(scope="module")
def pool(world, taps):
    return pr.make_pool(world.batch(range(len(world))), taps)


def test_pool_features(pool):
    assert len(pool) == 96
    assert pool.global_features.shape == (96, 512)
    assert pool.local_features.shape == (96, 512, 4, 4) and pool.local_features.dtype == torch.float16


def test_training_pairs_follow_the_mix_and_the_classes(pool):
    t, r, kinds = pr.training_pairs(pool, 400, seed=1, top_n=10)
    assert t.shape == r.shape == kinds.shape == (400,)
    assert bool((t != r).all())
    share = torch.bincount(kinds, minlength=3).double() / 400
    assert abs(float(share[2]) - 0.10) < 0.06 and abs(float(share[0]) - 0.45) < 0.1
    same = pool.labels[t] == pool.labels[r]
    assert bool(same[kinds < 2].all()) and not bool(same[kinds == 2].any())
    # deterministic in the seed: the same seed repeats, another draws other pairs
    t2, r2, k2 = pr.training_pairs(pool, 400, seed=1, top_n=10)
    assert torch.equal(t, t2) and torch.equal(r, r2) and torch.equal(kinds, k2)
    t3, _, _ = pr.training_pairs(pool, 400, seed=2, top_n=10)
    assert not torch.equal(t, t3)


def test_recommendation_prefers_its_own_scene(pool):
    ranked = pr.recommend_in_pool(pool, 3, pool, top_n=50)
    assert int(ranked[0]) == 3  # the query itself is in the pool: it scores highest
    ranked = pr.recommend_in_pool(pool, 3, pool, top_n=50, exclude=3)
    assert 3 not in ranked.tolist() and bool((pool.labels[ranked] == pool.labels[3]).all())


def test_alignment_of_self_pairs(pool, taps):
    idx = torch.arange(6)
    a = pr.align_pairs(taps, pool.L[idx], pool.L[idx], chunk=4)
    assert len(a) == 6 and a.cells_tr.dtype == torch.int32 and a.sim_tr.dtype == torch.float16
    ident = torch.arange(32 * 32).reshape(1, 32, 32).expand(6, -1, -1)
    phi_tr, phi_rt = a.phi()
    assert torch.equal(phi_tr, ident) and torch.equal(phi_rt, ident)
    x = a.inputs(idx, pool.L[idx], pool.ab[idx], cycle=True)
    assert x.shape == (6, 13, 32, 32)
    torch.testing.assert_close(x[:, 1:3], pool.ab[idx])  # T'_ab of a self pair is T_ab
    torch.testing.assert_close(x[:, 0:1], pool.L[idx] - 50)


def test_region_labels_and_correct_matches(world):
    r = world.batch(range(4))
    labels = ms.region_labels(r, world.num_classes)
    assert labels.shape == (4, 32, 32)
    assert set(labels.unique().tolist()) <= set(range(world.num_classes + 2))
    ident = torch.arange(32 * 32).reshape(1, 32, 32).expand(4, -1, -1)
    assert bool(ms.correct_matches(labels, labels, ident).all())


def test_primary_mode_override_keeps_the_grey_image(world):
    idx = torch.tensor([0, 1, 2])
    base = world.batch(idx.tolist())
    cls = base["classes"][:, 0]
    modes = torch.tensor([world.classes[int(c)].num_modes - 1 for c in cls])
    new = ms.render_with_primary_mode(world, idx, modes)
    assert torch.equal(new["modes"][:, 0], modes)
    L0, L1 = (pr.rgb_to_l_ab(b["rgb"])[0] for b in (base, new))
    torch.testing.assert_close(L0, L1, atol=0.6, rtol=0)  # 8-bit-free render: L is the same up to gamut clipping


def test_match_auc_known_values():
    score = torch.tensor([0.1, 0.4, 0.35, 0.8])
    correct = torch.tensor([False, True, False, True])
    assert ms.match_auc(score, correct) == pytest.approx(1.0)
    assert ms.match_auc(-score, correct) == pytest.approx(0.0)
    assert ms.match_auc(torch.ones(4), correct) == pytest.approx(0.5)  # ties count one half
    assert ms.match_auc(torch.tensor([0.1, 0.5, 0.3, 0.2]), correct) == pytest.approx(0.75)
