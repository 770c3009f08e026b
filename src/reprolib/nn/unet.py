"""The U-Net generator with a latent code z (pix2pix's U-Net, BicycleGAN's two ways of adding z).

A U-Net of ``num_downs`` blocks halves the image ``num_downs`` times down to 1 x 1 and doubles it back up;
each block's output is concatenated with its input (the skip connection), so fine detail reaches the output
without passing the bottleneck. Every down step is LeakyReLU(0.2), a 4 x 4 stride-2 conv and a norm (the
outermost has the conv alone, the innermost no norm); every up step is ReLU, a 4 x 4 stride-2 transposed conv
and a norm (the outermost ends in tanh instead). Widths: ngf, 2 ngf, 4 ngf, then 8 ngf for the rest; dropout
0.5 after the up step of the 8 ngf blocks next to the innermost (pix2pix's noise; the BicycleGAN training
scripts turn it on).

The code z (N, nz) is tiled over the image and concatenated as extra channels: ``where_add="all"`` to the
input of every block's down conv (BicycleGAN's final model, ``G_Unet_add_all``; keys ``model.down.*``,
``model.submodule.*``, ``model.up.*``), ``where_add="input"`` to the image alone (``G_Unet_add_input``; keys
``model.model.{i}``). With nz = 0 it is the plain pix2pix U-Net. The key layouts and shapes are those of the
released BicycleGAN generators (reference-facts 3.2, 11.3) with instance norm, so their weight files load
without renaming. (The released ``add_all`` code always builds one dropout level, so it needs 64-pixel images;
here a 32-pixel U-Net, num_downs = 5, simply has none.)

No activation works in place. (The released ``add_input`` blocks apply LeakyReLU in place to their input
before it is concatenated as the skip, so their skip carries LeakyReLU(x) instead of x; the next layer is
always the parent's ReLU and ReLU(LeakyReLU(x)) = ReLU(x), so the outputs are the same.)
"""

from __future__ import annotations

import torch
from torch import nn

from reprolib.nn.gan import NORMS, norm_layer
from reprolib.validation import checked_by

WHERE_ADD = ("all", "input")
MIN_DOWNS = 5  # ngf, 2 ngf, 4 ngf, 8 ngf levels and the innermost: 32 pixels a side at least

__all__ = ["WHERE_ADD", "MIN_DOWNS", "UNetZ", "tile_z"]


def tile_z(z: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, nz) -> (N, nz, height, width): the code repeated at every pixel."""
    return z[:, :, None, None].expand(z.shape[0], z.shape[1], height, width)


def _up(in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1)


def _down(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1)


class _BlockZ(nn.Module):
    """One U-Net level with z at its down conv's input: ``down``, ``submodule`` (the levels inside), ``up``."""

    def __init__(self, input_nc: int, outer_nc: int, inner_nc: int, nz: int, submodule: nn.Module | None,
                 norm: str, dropout: bool = False, outermost: bool = False):
        super().__init__()
        self.nz, self.outermost, self.innermost = nz, outermost, submodule is None
        conv = _down(input_nc + nz, inner_nc)
        if outermost:
            down, up = [conv], [nn.ReLU(), _up(2 * inner_nc, outer_nc), nn.Tanh()]
        elif self.innermost:
            down, up = [nn.LeakyReLU(0.2), conv], [nn.ReLU(), _up(inner_nc, outer_nc), norm_layer(norm, outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2), conv, norm_layer(norm, inner_nc)]
            up = [nn.ReLU(), _up(2 * inner_nc, outer_nc), norm_layer(norm, outer_nc)] + ([nn.Dropout(0.5)] if dropout else [])
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        xz = torch.cat([x, tile_z(z, x.shape[2], x.shape[3])], 1) if self.nz else x
        inner = self.down(xz) if self.innermost else self.submodule(self.down(xz), z)
        out = self.up(inner)
        return out if self.outermost else torch.cat([out, x], 1)


class _Block(nn.Module):
    """One U-Net level of the plain (``add_input``) layout: one Sequential ``model`` of down, submodule, up."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None, submodule: nn.Module | None,
                 norm: str, dropout: bool = False, outermost: bool = False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        conv = _down(input_nc, inner_nc)
        if outermost:
            layers = [conv, submodule, nn.ReLU(), _up(2 * inner_nc, outer_nc), nn.Tanh()]
        elif submodule is None:
            layers = [nn.LeakyReLU(0.2), conv, nn.ReLU(), _up(inner_nc, outer_nc), norm_layer(norm, outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2), conv, norm_layer(norm, inner_nc), submodule,
                      nn.ReLU(), _up(2 * inner_nc, outer_nc), norm_layer(norm, outer_nc)]
            layers += [nn.Dropout(0.5)] if dropout else []
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([self.model(x), x], 1)


def _check_unet(self, in_channels, out_channels, nz, num_downs, ngf, where_add, norm, dropout):
    for name, v, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1), ("nz", nz, 0),
                         ("ngf", ngf, 1), ("num_downs", num_downs, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"UNetZ: {name} must be an integer >= {low}, got {v!r}")
    if where_add not in WHERE_ADD:
        raise ValueError(f"UNetZ: where_add must be one of {WHERE_ADD}, got {where_add!r}")
    if norm not in NORMS:
        raise ValueError(f"UNetZ: norm must be one of {NORMS}, got {norm!r}")
    if num_downs < MIN_DOWNS:
        raise ValueError(f"UNetZ: a U-Net has at least {MIN_DOWNS} levels (ngf, 2 ngf, 4 ngf and 8 ngf wide, and the "
                         f"innermost), got num_downs={num_downs}; images must be at least {2 ** MIN_DOWNS} pixels a side")


def _check_forward(self, x, z):
    side = 2 ** self.num_downs
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[2] % side or x.shape[3] % side:
        raise ValueError(f"UNetZ with {self.num_downs} levels takes (N, C, H, W) images with H and W multiples of "
                         f"{side}, got {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if self.nz and (not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape != (x.shape[0], self.nz)):
        raise ValueError(f"UNetZ needs a code z of shape ({x.shape[0]}, {self.nz}), got "
                         f"{tuple(z.shape) if isinstance(z, torch.Tensor) else z!r}")


class UNetZ(nn.Module):
    """``G(x, z)``: (N, in_channels, H, W) and (N, nz) -> (N, out_channels, H, W) in [-1, 1].

    H and W must be multiples of 2**num_downs (num_downs = log2(size) takes a square image down to 1 x 1).
    """

    @checked_by(_check_unet)
    def __init__(self, in_channels: int, out_channels: int, nz: int, num_downs: int, ngf: int = 64,
                 where_add: str = "all", norm: str = "instance", dropout: bool = True):
        super().__init__()
        self.nz, self.num_downs, self.where_add = nz, num_downs, where_add if nz else "input"
        w8, w4, w2 = 8 * ngf, 4 * ngf, 2 * ngf
        if self.where_add == "all":
            block = _BlockZ(w8, w8, w8, nz, None, norm)
            for _ in range(num_downs - 5):
                block = _BlockZ(w8, w8, w8, nz, block, norm, dropout)
            for outer, inner in ((w4, w8), (w2, w4), (ngf, w2)):
                block = _BlockZ(outer, outer, inner, nz, block, norm)
            self.model = _BlockZ(in_channels, out_channels, ngf, nz, block, norm, outermost=True)
        else:
            block = _Block(w8, w8, None, None, norm)
            for _ in range(num_downs - 5):
                block = _Block(w8, w8, None, block, norm, dropout)
            for outer, inner in ((w4, w8), (w2, w4), (ngf, w2)):
                block = _Block(outer, inner, None, block, norm)
            self.model = _Block(out_channels, ngf, in_channels + nz, block, norm, outermost=True)

    @checked_by(_check_forward)
    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        z = z.to(x.dtype) if self.nz else None
        if self.where_add == "all":
            return self.model(x, z)
        return self.model(torch.cat([x, tile_z(z, x.shape[2], x.shape[3])], 1) if self.nz else x)
