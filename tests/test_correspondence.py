"""Tests of reprolib.nn.correspondence (the similarity sub-net of He et al. 2018) and reprolib.nn.feature_loss."""

from __future__ import annotations

import pytest
import torch

from reprolib.nn import VGG16_RELU_X_1, build_backbone, vgg16_relu_x_1
from reprolib.nn import correspondence as cr
from reprolib.nn.feature_loss import FeatureLoss
from reprolib.nn.pretrained import pretrained_backbone


@pytest.fixture(scope="module")
def taps():
    return vgg16_relu_x_1(pretrained_backbone("vgg"))  # ImageNet weights, converted by the setup


def _textured(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 20 + 60 * torch.rand(n, 1, size, size, generator=g)


def test_relu_x_1_taps_share_the_trunk():
    trunk = build_backbone("vgg", seed=0)
    t = vgg16_relu_x_1(trunk)
    assert t.features is trunk.features
    assert all(isinstance(trunk.features[e - 1], torch.nn.ReLU) for e in VGG16_RELU_X_1["tap_ends"])
    outs = t(torch.zeros(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512, 512]
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]  # strides 1, 2, 4, 8, 16
    # relu1_1 is the first conv's ReLU: the same as running features[0:2] by hand
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(t(x)[0], trunk.features[1](trunk.features[0](x)))
    with pytest.raises(TypeError, match="VGG16Features"):
        vgg16_relu_x_1(build_backbone("alex", seed=0))


def test_self_match_is_the_identity_and_round_trips(taps):
    L = _textured(2)
    pyr = cr.feature_pyramid(taps, L)
    cells_tr, cells_rt = cr.correspond(pyr, pyr, (32, 32))
    assert torch.equal(cells_tr, torch.arange(64).expand(2, -1)) and torch.equal(cells_rt, cells_tr)
    phi_tr, phi_rt = cr.lift_to_pixels(cells_tr, (32, 32)), cr.lift_to_pixels(cells_rt, (32, 32))
    ident = torch.arange(32 * 32).reshape(1, 32, 32).expand(2, -1, -1)
    assert torch.equal(phi_tr, ident) and torch.equal(phi_rt, ident)
    assert cr.cross_check(phi_tr, phi_rt).all()
    ab = torch.randn(2, 2, 32, 32) * 30
    torch.testing.assert_close(cr.cycle_reference(ab, phi_tr, phi_rt), ab)
    fwd, back = cr.similarity_maps(pyr, pyr, cells_tr, cells_rt, (32, 32))
    assert fwd.shape == back.shape == (2, 5, 32, 32)
    # a cell whose features are all zero (a dead ReLU region) has similarity 0; every other one is 1
    live = torch.stack([cr.to_cells(p, (8, 8)).flatten(2).norm(dim=1) > 0 for p in pyr], dim=1)  # (2, 5, 64)
    cells = fwd[:, :, ::4, ::4].flatten(2)
    torch.testing.assert_close(cells[live], torch.ones(int(live.sum())), atol=1e-4, rtol=0)
    torch.testing.assert_close(back, fwd)
    assert float(live.double().mean()) > 0.9


def test_flat_image_ties_break_to_the_own_cell(taps):
    # a flat grey image: every cell has the same descriptor, all candidates tie; the nearest (itself) wins
    L = torch.full((1, 1, 32, 32), 50.0)
    pyr = cr.feature_pyramid(taps, L)
    cells_tr, _ = cr.correspond(pyr, pyr, (32, 32))
    assert torch.equal(cells_tr[0], torch.arange(64))


def test_a_shifted_image_matches_by_the_shift(taps):
    # the reference is the target rolled by 2 cells (8 px) to the right: interior cells match by that shift.
    # Not all exactly: relu5_1 (stride 16) does not shift by whole cells, and the borders move relative to the
    # content. Measured with the ImageNet VGG16 on two noise images: 0.79 / 0.75 exact, 1.00 within one cell.
    L = _textured(1, 64, seed=3)
    R = torch.roll(L, shifts=8, dims=3)
    pyr_t, pyr_r = cr.feature_pyramid(taps, L), cr.feature_pyramid(taps, R)
    phi_tr = cr.lift_to_pixels(cr.correspond(pyr_t, pyr_r, (64, 64))[0], (64, 64))
    y, x = phi_tr[0] // 64, phi_tr[0] % 64
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    inner = (yy >= 16) & (yy < 48) & (xx >= 16) & (xx < 40)
    exact = ((y == yy) & (x == xx + 8))[inner].float().mean()
    near = (((y - yy).abs() <= 4) & ((x - xx - 8).abs() <= 4))[inner].float().mean()
    assert exact > 0.5 and near > 0.95, f"{exact:.2f} exactly, {near:.2f} within a cell matched by the shift"


def test_lift_keeps_the_offset_inside_the_cell():
    cells = torch.tensor([[3, 0, 1, 2]])  # a 2 x 2 cell grid at stride 4: cell 0 -> 3, 1 -> 0, ...
    phi = cr.lift_to_pixels(cells, (8, 8), stride=4)
    assert phi.shape == (1, 8, 8)
    assert int(phi[0, 1, 2]) == (4 + 1) * 8 + (4 + 2)  # pixel (1, 2) of cell 0 -> pixel (5, 6) of cell 3
    assert int(phi[0, 6, 1]) == 2 * 8 + 5  # pixel (6, 1), offset (2, 1) in cell 2 -> (2, 5) in cell 1 (row 0, col 1)


def test_warp_and_compose_on_known_maps():
    x = torch.arange(2 * 4, dtype=torch.float32).reshape(1, 2, 2, 2)
    phi = torch.tensor([[[3, 2], [1, 0]]])  # a 180-degree rotation
    torch.testing.assert_close(cr.warp(x, phi), torch.flip(x, dims=(2, 3)))
    assert torch.equal(cr.compose(phi, phi), torch.arange(4).reshape(1, 2, 2))
    with pytest.raises(ValueError, match="outside"):
        cr.warp(x, torch.tensor([[[4, 0], [0, 0]]]))
    with pytest.raises(TypeError, match="torch.long"):
        cr.warp(x, phi.float())


def test_cross_check_finds_broken_round_trips():
    ident = torch.arange(16).reshape(1, 4, 4)
    broken = ident.clone()
    broken[0, 0, 0] = 5  # pixel (0, 0) goes to (1, 1) and comes back to (1, 1)
    ok = cr.cross_check(broken, ident)
    assert not ok[0, 0, 0] and ok.sum() == 15
    assert cr.cross_check(broken, ident, tolerance=1).all()


def test_align_shapes_and_errors(taps):
    L_t, L_r = _textured(2, seed=1), _textured(2, seed=2)
    R_ab = torch.randn(2, 2, 32, 32) * 20
    a = cr.align(taps, L_t, L_r, R_ab)
    assert a.phi_tr.shape == (2, 32, 32) and a.warped_ab.shape == (2, 2, 32, 32)
    assert a.sim_tr.shape == a.sim_rt.shape == (2, 5, 32, 32)
    assert float(a.sim_tr.abs().max()) <= 1 + 1e-5
    # each 4 x 4 cell carries one similarity (Eq. 1 on cells)
    torch.testing.assert_close(a.sim_tr, a.sim_tr[:, :, ::4, ::4].repeat_interleave(4, 2).repeat_interleave(4, 3))
    torch.testing.assert_close(a.warped_ab, cr.warp(R_ab, a.phi_tr))
    with pytest.raises(ValueError, match="multiple of the cell size"):
        cr.align(taps, L_t[..., :30, :30], L_r[..., :30, :30], R_ab[..., :30, :30])
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        cr.align(taps, L_t.expand(-1, 3, -1, -1), L_r, R_ab)
    with pytest.raises(ValueError, match="N pairs"):
        cr.align(taps, L_t, L_r, R_ab[:1])


def test_feature_loss_is_zero_at_the_truth_and_only_the_input_learns():
    trunk = build_backbone("vgg", seed=0)
    loss = FeatureLoss(trunk)
    assert loss.taps.features is trunk.features
    assert not any(p.requires_grad for p in trunk.parameters())
    loss.train()
    assert not loss.taps.training
    L = _textured(2)
    ab = torch.randn(2, 2, 32, 32) * 20
    torch.testing.assert_close(loss(L, ab, ab), torch.zeros(2))
    pred = (ab + 40 * torch.randn_like(ab)).requires_grad_(True)
    value = loss(L, pred, ab)
    assert value.shape == (2,) and bool((value > 0).all())
    value.sum().backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0
    # far out of the sRGB gamut the gradient is not zeroed by a clip
    out = torch.full((1, 2, 32, 32), 120.0, requires_grad=True)
    loss(L[:1], out, ab[:1]).sum().backward()
    assert float(out.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="one shape"):
        loss(L, pred[:1], ab)
