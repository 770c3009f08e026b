"""Chapter 7's baselines: the sequential pipeline's point rules (sec. 5.2, Fig. 9) and their hint input."""

from __future__ import annotations

import torch

from reprolib.chapters.exemplar import baselines as bl
from reprolib.nn import correspondence as cr


def test_threshold_keeps_the_top_tenth_of_each_image():
    g = torch.Generator().manual_seed(0)
    sim = torch.rand(3, 8, 10, generator=g)
    chosen = bl.threshold_points(sim)
    assert chosen.shape == sim.shape and chosen.dtype == torch.bool
    assert chosen.flatten(1).sum(1).tolist() == [8, 8, 8]  # round(0.10 * 80)
    for i in range(3):  # every chosen pixel scores at least as high as every other pixel of its image
        assert float(sim[i][chosen[i]].min()) >= float(sim[i][~chosen[i]].max())
    assert bl.threshold_points(sim, share=0.5).flatten(1).sum(1).tolist() == [40, 40, 40]
    assert bl.threshold_points(sim[:, :1, :2], share=0.1).sum() == 3  # at least one point per image


def test_crosscheck_keeps_the_pixels_whose_round_trip_comes_home():
    H, W = 4, 6
    ident = torch.arange(H * W).reshape(1, H, W)
    assert bool(bl.crosscheck_points(ident, ident).all())
    phi_tr = ident.clone()
    phi_tr[0, 0, 0] = 5  # pixel 0 goes to 5, and 5 goes back to itself, not to 0
    got = bl.crosscheck_points(phi_tr, ident)
    assert not bool(got[0, 0, 0]) and int(got.sum()) == H * W - 1
    # a swap of two pixels in both directions is consistent: both come home
    swap = ident.clone()
    swap[0, 0, 0], swap[0, 0, 1] = 1, 0
    assert bool(bl.crosscheck_points(swap, swap).all())
    assert torch.equal(bl.crosscheck_points(swap, swap), cr.cross_check(swap, swap))


def test_sequential_hints_carry_the_warped_colour_at_the_points_only():
    warped = torch.randn(2, 2, 4, 4) * 40
    points = torch.zeros(2, 4, 4, dtype=torch.bool)
    points[0, 1, 2] = points[1, 3, 0] = True
    hint, mask = bl.sequential_hints(warped, points)
    assert hint.shape == (2, 2, 4, 4) and mask.shape == (2, 1, 4, 4)
    assert mask.sum() == 2 and bool((hint[:, :, ~points[0]][0] == 0).all())
    torch.testing.assert_close(hint[0, :, 1, 2], warped[0, :, 1, 2])
    torch.testing.assert_close(hint[1, :, 3, 0], warped[1, :, 3, 0])
