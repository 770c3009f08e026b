"""The reference recommendation of sec. 4 (Eq. 8) on synthetic features: its invariances, its extremes, its cut."""

import pytest
import torch

from reprolib.chapters.exemplar import recommend as rec
from reprolib.chapters.exemplar.paper import BETA

C, h, w, CELL = 8, 3, 4, 4
P = h * w


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _features(g: torch.Generator, n: int | None = None) -> torch.Tensor:
    shape = (C, h, w) if n is None else (n, C, h, w)
    return torch.randn(shape, generator=g)


def _lightness(g: torch.Generator, n: int | None = None) -> torch.Tensor:
    shape = (h * CELL, w * CELL) if n is None else (n, h * CELL, w * CELL)
    return torch.rand(shape, generator=g) * 100


def test_identical_candidate_scores_the_maximum():
    g = _gen()
    F, L = _features(g), _lightness(g)
    assert torch.isclose(rec.local_score(F, F, L, L, CELL), torch.tensor(P * (1 + BETA)), atol=1e-4)
    # and no other candidate can exceed (1 + beta) per position
    for _ in range(5):
        s = rec.local_score(F, _features(g), L, _lightness(g), CELL)
        assert s <= P * (1 + BETA) + 1e-4


def test_identical_candidate_ranks_first():
    g = _gen(1)
    M = 12
    qg, qF, qL = torch.randn(16, generator=g), _features(g), _lightness(g)
    cg, cF, cL = torch.randn(M, 16, generator=g), _features(g, M), _lightness(g, M)
    cg[7], cF[7], cL[7] = qg, qF, qL
    out = rec.recommend(qg, cg, qF, cF, qL, cL, CELL, top_n=5)
    assert int(out.indices[0]) == 7 and int(out.shortlist[0]) == 7
    assert torch.isclose(out.scores[0], torch.tensor(P * (1 + BETA)), atol=1e-4)
    assert torch.isclose(out.global_scores[7], torch.tensor(1.0), atol=1e-6)
    assert torch.all(out.scores[:-1] >= out.scores[1:])


def test_local_score_is_invariant_to_positive_scaling_of_features():
    g = _gen(2)
    F_T, F_R, L_T, L_R = _features(g), _features(g), _lightness(g), _lightness(g)
    base = rec.local_score(F_T, F_R, L_T, L_R, CELL)
    for a, b in ((3.0, 1.0), (1.0, 0.01), (250.0, 7.5)):
        assert torch.isclose(rec.local_score(a * F_T, b * F_R, L_T, L_R, CELL), base, rtol=1e-5, atol=1e-5)
    # per-position scales too: each position's cosine only sees directions
    scale = torch.rand(1, h, w, generator=g) + 0.1
    assert torch.isclose(rec.local_score(F_T * scale, F_R, L_T, L_R, CELL), base, rtol=1e-5, atol=1e-5)


def test_local_score_ignores_the_order_of_reference_positions():
    g = _gen(3)
    F_T, F_R, L_T, L_R = _features(g), _features(g), _lightness(g), _lightness(g)
    base = rec.local_score(F_T, F_R, L_T, L_R, CELL)
    perm = torch.randperm(P, generator=g)
    # move reference positions (feature vector and the image cell under it together)
    F_p = F_R.flatten(1)[:, perm].reshape(C, h, w)
    cells = L_R.reshape(h, CELL, w, CELL).permute(0, 2, 1, 3).reshape(P, CELL, CELL)[perm]
    L_p = cells.reshape(h, w, CELL, CELL).permute(0, 2, 1, 3).reshape(h * CELL, w * CELL)
    assert torch.isclose(rec.local_score(F_T, F_p, L_T, L_p, CELL), base, rtol=1e-5, atol=1e-5)


def test_histogram_correlation_identical_reversed_and_flat():
    g = _gen(4)
    cells = torch.rand(6, 16, generator=g)
    assert torch.allclose(rec.histogram_correlation(cells, cells), torch.ones(6), atol=1e-6)
    # a mostly dark cell (counts falling from dark to bright) against its luminance-reversed, mostly bright version
    counts = [4, 3, 3, 2, 1, 1, 1, 1, 0, 0]
    L = torch.tensor([10.0 * b + 5 for b, n in enumerate(counts) for _ in range(n)]).reshape(4, 4)
    hist, hist_rev = rec.cell_histograms(L, 4, 10), rec.cell_histograms(100 - L, 4, 10)
    assert torch.equal(hist_rev, hist.flip(1))
    assert rec.histogram_correlation(hist, hist_rev).item() < -0.1
    # flat histograms: never NaN
    flat, peaked = torch.full((1, 8), 3.0), torch.tensor([[8.0, 0, 0, 0, 0, 0, 0, 0]])
    r = rec.histogram_correlation(torch.cat([flat, flat, peaked, torch.zeros(1, 8)]),
                                  torch.cat([2 * flat, peaked, flat, torch.zeros(1, 8)]))
    assert torch.allclose(r, torch.tensor([1.0, 0.0, 0.0, 1.0]))
    assert torch.isfinite(r).all()


def test_cell_histograms_count_each_cell_in_row_major_order():
    L = torch.zeros(4, 6)
    L[:2, 2:4] = 100.0  # cell (0, 1): all in the last bin
    L[2:, 4:] = 49.9  # cell (1, 2): all in bin 4 of 10
    hist = rec.cell_histograms(L, 2, 10)
    assert hist.shape == (6, 10) and torch.all(hist.sum(1) == 4)
    assert hist[1, 9] == 4 and hist[5, 4] == 4 and hist[0, 0] == 4 and hist[3, 0] == 4


def test_the_top_n_cut_is_honoured():
    g = _gen(5)
    M = 10
    qg, qF, qL = torch.randn(16, generator=g), _features(g), _lightness(g)
    cg, cF, cL = torch.randn(M, 16, generator=g), _features(g, M), _lightness(g, M)
    out = rec.recommend(qg, cg, qF, cF, qL, cL, CELL, top_n=3)
    best3 = set(torch.topk(rec.global_scores(qg, cg), 3).indices.tolist())
    assert len(out.indices) == 3 and set(out.indices.tolist()) == best3 == set(out.shortlist.tolist())
    # the reranked scores are the local scores of those candidates
    for i, s in zip(out.indices.tolist(), out.scores):
        assert torch.isclose(s, rec.local_score(qF, cF[i], qL, cL[i], CELL), rtol=1e-5, atol=1e-5)
    # N above the pool keeps everyone; only shortlisted candidates are read
    everyone = rec.recommend(qg, cg, qF, cF, qL, cL, CELL, top_n=500)
    assert sorted(everyone.indices.tolist()) == list(range(M))

    class Lazy(list):
        read: set = set()

        def __getitem__(self, i):
            self.read.add(i)
            return list.__getitem__(self, i)

    lazy = Lazy(cF)
    rec.recommend(qg, cg, qF, lazy, qL, cL, CELL, top_n=2)
    assert lazy.read == set(out.shortlist[:2].tolist())


def test_global_scores_are_cosines():
    g = _gen(6)
    q, c = torch.randn(5, generator=g), torch.randn(4, 5, generator=g)
    expected = torch.nn.functional.cosine_similarity(c, q[None], dim=1)
    assert torch.allclose(rec.global_scores(q, c), expected, atol=1e-6)
    assert torch.allclose(rec.global_scores(2 * q, 0.5 * c), expected, atol=1e-6)
    assert rec.global_scores(q, torch.zeros(1, 5)).item() == 0.0


def test_clear_errors():
    g = _gen(7)
    F, L = _features(g), _lightness(g)
    with pytest.raises(ValueError, match="multiples of cell"):
        rec.cell_histograms(torch.zeros(10, 12), 4)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        rec.cell_histograms(L * 2.56, CELL)
    with pytest.raises(ValueError, match="must have shape"):
        rec.local_score(F, F, L[:-CELL], L, CELL)
    with pytest.raises(ValueError, match="same number of channels"):
        rec.local_score(F, F[:-1], L, L, CELL)
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        rec.local_score(F[0], F, L, L, CELL)
    with pytest.raises(ValueError, match="same shape"):
        rec.histogram_correlation(torch.ones(2, 4), torch.ones(3, 4))
    with pytest.raises(ValueError, match="length D"):
        rec.global_scores(torch.ones(3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="top_n"):
        rec.recommend(torch.ones(3), torch.ones(2, 3), F, [F, F], L, [L, L], CELL, top_n=0)
    with pytest.raises(ValueError, match="one item per candidate"):
        rec.recommend(torch.ones(3), torch.ones(2, 3), F, [F], L, [L, L], CELL)
    with pytest.raises(ValueError, match="pool is empty"):
        rec.recommend(torch.ones(3), torch.ones(0, 3), F, [], L, [], CELL)
    with pytest.raises(ValueError, match="NaN"):
        rec.global_scores(torch.tensor([float("nan"), 1.0]), torch.ones(2, 2))
