"""Diverse colorization with a VAE and a mixture density network: Deshpande, Lu, Yeh, Chong & Forsyth, CVPR 2017.

Read this file next to sections 3, 4 and 6 of the paper. The method has two stages (Fig. 1):

1. a **VAE on colour fields** (sec. 3, 6.1): an encoder Q(z | C) maps the ab channels C of an image (64 x 64 x 2)
   to a d = 64 dimensional code z, a decoder f(z) maps the code back to a colour field. Its decoder loss is not
   the plain L2 of a VAE but Eq. 4, ``L_dec = L_hist + lambda_mah L_mah + lambda_grad L_grad``: a squared error
   weighted by the inverse prior of each pixel's colour (colourfulness, Eq. 2), a Mahalanobis distance along the
   top-20 principal components of the training colour fields plus the residue (specificity), and the error of
   the fields' finite differences (Eq. 3); the encoder's KL to N(0, I) is weighted 1e-2 against it.
2. a **mixture density network** (sec. 4, 6.2) P(z | G) from grey-level features G: 8 Gaussian components of
   fixed spherical variance 0.1, trained with the *closest-component* loss of Eq. 6 (only the component whose
   mean is nearest the target code is pulled, all mixture weights are trained), because the plain negative
   log-likelihood of Eq. 5 underflows when every mean is far from the code.

At test time the 8 means, sorted by their weights, are decoded: the top 5 are the diverse colorizations.
*ours+skip* adds a grey-level encoder to the VAE whose 4 x 4 x d output multiplies the tiled code, with skip
connections into the decoder (sec. 6.3, 7); the *CVAE* baseline has the same decoder and its encoder also sees the
grey image, Q(z | C, G) (sec. 5).

Colour fields are ab / ``AB_SCALE`` (128, the released code's 8-bit OpenCV Lab, in which the paper's lambdas and
its Tables 1-3 are expressed), in [-1, 1] as the decoder's tanh gives them. Widths are the paper's times ``width``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.color import normalize_l
from reprolib.nn.latent import kl_standard_normal
from reprolib.validation import checked_by

__all__ = ["AB_SCALE", "D", "WIDTHS", "MDN_WIDTHS", "MDN_FC", "COMPONENTS", "MDN_VARIANCE", "LAMBDA_MAH", "LAMBDA_GRAD",
           "KL_WEIGHT", "PCA_COMPONENTS", "TOP_K", "grey_input", "colour_field", "ColorEncoder", "GreyEncoder", "Decoder", "DivColorVAE", "MDN", "fit_pca",
           "mahalanobis_loss", "hist_loss", "grad_loss", "decoder_loss", "vae_loss", "mdn_closest_loss",
           "mdn_nll", "mdn_nll_naive", "top_means"]

AB_SCALE = 128.0  # colour fields are ab / 128 (the released code's OpenCV Lab)
D = 64  # sec. 6.1: d = 64 for all datasets
WIDTHS = (128, 256, 512, 1024)  # sec. 6.1: the encoder's channels; the decoder runs them backwards
MDN_WIDTHS = (384, 320, 288, 256, 128)  # sec. 6.2: the MDN's five convolutions
MDN_FC = 4096  # sec. 6.2: its hidden fully connected layer
COMPONENTS = 8  # sec. 6.2: 8 components
MDN_VARIANCE = 0.1  # sec. 6.2: "a fixed spherical variance of .1"
LAMBDA_MAH, LAMBDA_GRAD = 0.1, 1e-3  # Eq. 4
KL_WEIGHT = 1e-2  # sec. 3: the KL term weighted 1e-2 against the decoder loss
PCA_COMPONENTS = 20  # sec. 3.1: k = 20
TOP_K = 5  # sec. 6.2: the top-5 means are the diverse colorizations


def grey_input(L: torch.Tensor) -> torch.Tensor:
    """The grey input G of the grey encoder: L in [0, 100] -> (L - 50) / 100."""
    return normalize_l(L)


def colour_field(ab: torch.Tensor) -> torch.Tensor:
    """The colour field C the VAE models: ab / 128 (the released code's scale, in which Eq. 4's weights hold)."""
    return ab / AB_SCALE


def _scaled(channels: tuple[int, ...], width: float) -> tuple[int, ...]:
    return tuple(max(4, round(c * width)) for c in channels)


def _conv_relu_bn(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
    """C_ReLU(k, s, n) -> B: the paper's order, batch normalisation after the activation."""
    if stride == 2:  # halves the map: 5 x 5 padded by 2, 4 x 4 by 1
        conv = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2)]
    else:  # keeps the map ("zero padding"); an even kernel gets the extra row and column after the map
        conv = [nn.ZeroPad2d(((k - 1) // 2, k // 2, (k - 1) // 2, k // 2)), nn.Conv2d(cin, cout, k, stride)]
    return [*conv, nn.ReLU(), nn.BatchNorm2d(cout)]


def _check_size(self, size, width, d, *_, **__):
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 16:
        raise ValueError(f"size must be a multiple of 16 (four stride-2 layers), got {size!r}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 1:
        raise ValueError(f"width must be a number in (0, 1], got {width!r}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")


class ColorEncoder(nn.Module):
    """Q(z | C): 64 x 64 x 2 -> C(5,2,128) B -> C(5,2,256) B -> C(5,2,512) B -> C(4,2,1024) B -> F(2d): the mean
    and log-variance of the code (sec. 6.1). ``grey_channels``: the CVAE's encoder also reads the grey encoder's
    4 x 4 map, concatenated before the fully connected layer (the paper does not say where G enters Q)."""

    @checked_by(_check_size)
    def __init__(self, size: int = 64, width: float = 1.0, d: int = D, grey_channels: int = 0):
        super().__init__()
        c = _scaled(WIDTHS, width)
        self.d = d
        self.convs = nn.Sequential(*_conv_relu_bn(2, c[0], 5, 2), *_conv_relu_bn(c[0], c[1], 5, 2),
                                   *_conv_relu_bn(c[1], c[2], 5, 2), *_conv_relu_bn(c[2], c[3], 4, 2))
        self.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear((c[3] + grey_channels) * (size // 16) ** 2, 2 * d))

    def forward(self, ab: torch.Tensor, grey_map: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(ab)
        if grey_map is not None:
            h = torch.cat([h, grey_map], 1)
        mu, logvar = self.fc(h.flatten(1)).chunk(2, dim=1)
        return mu, logvar


class GreyEncoder(nn.Module):
    """The grey-level encoder of ours+skip and the CVAE (sec. 6.3): 64 x 64 x 1 -> C(5,2,128) B -> C(5,2,256) B ->
    C(5,2,512) B -> C(4,2,d); returns the maps at 1/2, 1/4 and 1/8 (the skips) and the 4 x 4 x d output."""

    @checked_by(_check_size)
    def __init__(self, size: int = 64, width: float = 1.0, d: int = D):
        super().__init__()
        c = _scaled(WIDTHS, width)
        self.blocks = nn.ModuleList([nn.Sequential(*_conv_relu_bn(1, c[0], 5, 2)),
                                     nn.Sequential(*_conv_relu_bn(c[0], c[1], 5, 2)),
                                     nn.Sequential(*_conv_relu_bn(c[1], c[2], 5, 2)),
                                     nn.Sequential(nn.Conv2d(c[2], d, 4, 2, 1), nn.ReLU())])
        self.channels = (c[0], c[1], c[2], d)

    def forward(self, grey: torch.Tensor) -> list[torch.Tensor]:
        maps, h = [], grey
        for block in self.blocks:
            h = block(h)
            maps.append(h)
        return maps


class Decoder(nn.Module):
    """f(z): 1 x 1 x d -> U(4) -> C(4,1,1024) B -> U(2) -> C(5,1,512) B -> U(2) -> C(5,1,256) B -> U(2) ->
    C(5,1,128) B -> U(2) -> C_tanh(5,1,2) (sec. 6.1). With ``skip_channels`` (ours+skip, the CVAE) its input is
    the grey encoder's 4 x 4 map times the tiled code, and the grey maps at 1/8, 1/4 and 1/2 are concatenated
    before the convolutions at those sizes."""

    @checked_by(_check_size)
    def __init__(self, size: int = 64, width: float = 1.0, d: int = D, skip_channels: tuple[int, ...] = ()):
        super().__init__()
        c = _scaled(WIDTHS, width)
        s8, s4, s2 = skip_channels[2::-1] if skip_channels else (0, 0, 0)
        self.start = size // 16
        self.convs = nn.ModuleList([nn.Sequential(*_conv_relu_bn(d, c[3], 4)),
                                    nn.Sequential(*_conv_relu_bn(c[3] + s8, c[2], 5)),
                                    nn.Sequential(*_conv_relu_bn(c[2] + s4, c[1], 5)),
                                    nn.Sequential(*_conv_relu_bn(c[1] + s2, c[0], 5)),
                                    nn.Sequential(nn.Conv2d(c[0], 2, 5, padding=2), nn.Tanh())])

    def forward(self, z: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        if skips is None:  # U(4) of a 1 x 1 map: the code at every position
            h = z[:, :, None, None].expand(-1, -1, self.start, self.start)
        else:  # the grey encoder's 4 x 4 x d map times the tiled code
            h = skips[3] * z[:, :, None, None]
        h = self.convs[0](h)
        for k, conv in enumerate(self.convs[1:]):
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            if skips is not None and k < 3:
                h = torch.cat([h, skips[2 - k]], 1)
            h = conv(h)
        return h


def _check_vae(self, kind, size, width, d):
    if kind not in ("ours", "skip", "cvae"):
        raise ValueError(f"kind must be 'ours' (decoder from z), 'skip' (ours+skip) or 'cvae', got {kind!r}")


class DivColorVAE(nn.Module):
    """The colour-field VAE: ``kind="ours"`` (the decoder sees z alone), ``"skip"`` (ours+skip: a grey encoder,
    its output multiplied with z, skip connections) or ``"cvae"`` (the baseline: as ours+skip, and the encoder also
    sees the grey image). ``encode(ab, grey)`` -> (mu, logvar); ``decode(z, grey)`` -> a colour field in [-1, 1]
    (ab / 128); ``grey`` is L / 100 - 0.5, (N, 1, H, W), needed by "skip" and "cvae"."""

    @checked_by(_check_vae)
    def __init__(self, kind: str = "ours", size: int = 64, width: float = 1.0, d: int = D):
        super().__init__()
        self.kind, self.d = kind, d
        self.grey = GreyEncoder(size, width, d) if kind != "ours" else None
        skip = self.grey.channels if self.grey is not None else ()
        self.encoder = ColorEncoder(size, width, d, grey_channels=d if kind == "cvae" else 0)
        self.decoder = Decoder(size, width, d, skip_channels=skip)

    def grey_maps(self, grey: torch.Tensor | None) -> list[torch.Tensor] | None:
        if self.grey is None:
            return None
        if grey is None:
            raise ValueError(f"the {self.kind!r} VAE needs the grey image")
        return self.grey(grey)

    def encode(self, ab: torch.Tensor, grey: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.grey_maps(grey) if self.kind == "cvae" else None
        return self.encoder(ab, maps[3] if maps is not None else None)

    def decode(self, z: torch.Tensor, grey: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self.grey_maps(grey))


def _check_mdn(self, in_channels, in_side, d, components, width):
    for name, v in (("in_channels", in_channels), ("in_side", in_side), ("d", d), ("components", components)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"MDN: {name} must be a positive integer, got {v!r}")
    if in_side < 2:
        raise ValueError(f"MDN: the feature map must be at least 2 x 2 (one stride-2 layer), got {in_side}")


class MDN(nn.Module):
    """P(z | G) (sec. 6.2): G -> C(5,1,384) B -> C(5,1,320) B -> C(5,1,288) B -> C(5,2,256) B -> C(5,1,128) B ->
    FC(4096) -> FC(8 d + 8). ``forward(G)`` -> (mixture logits (N, M), means (N, M, d)); the variance is fixed."""

    @checked_by(_check_mdn)
    def __init__(self, in_channels: int, in_side: int, d: int = D, components: int = COMPONENTS, width: float = 1.0):
        super().__init__()
        c = _scaled(MDN_WIDTHS, width)
        self.d, self.components = d, components
        self.convs = nn.Sequential(*_conv_relu_bn(in_channels, c[0], 5), *_conv_relu_bn(c[0], c[1], 5),
                                   *_conv_relu_bn(c[1], c[2], 5), *_conv_relu_bn(c[2], c[3], 5, 2),
                                   *_conv_relu_bn(c[3], c[4], 5))
        side = (in_side + 1) // 2
        hidden = max(16, round(MDN_FC * width))
        # the paper leaves the hidden layer's activation open; the released code uses tanh, then dropout
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c[4] * side * side, hidden), nn.Tanh(), nn.Dropout(0.3),
                                nn.Linear(hidden, components * d + components))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.fc(self.convs(features))
        logits, means = out[:, :self.components], out[:, self.components:]
        return logits, means.reshape(-1, self.components, self.d)


# ---------------------------------------------------------------------------------------------
# The decoder's losses (sec. 3.1, Eq. 2-4), on colour fields (N, 2, H, W); sums over a field, means over a batch


def fit_pca(fields: torch.Tensor, k: int = PCA_COMPONENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k principal directions P (D, k) of training colour fields (N, 2, H, W), D = 2 H W, orthonormal, and
    the standard deviations sigma (k,) of the fields' projections on them (float64, from the centred fields)."""
    x = fields.flatten(1).double()
    x = x - x.mean(0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    return vh[:k].T.contiguous(), s[:k] / math.sqrt(len(x) - 1)


def mahalanobis_loss(c: torch.Tensor, f: torch.Tensor, P: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """L_mah: sum_k ((C - f)^T P_k)^2 / sigma_k^2 + ||(C - f)_res||^2 / sigma_K^2, the residue being what the k
    directions do not explain (||C - f||^2 minus the squared projections, P orthonormal)."""
    diff = (c - f).flatten(1).to(P.dtype)
    proj = diff @ P
    residue = diff.pow(2).sum(1) - proj.pow(2).sum(1)
    return ((proj / sigma).pow(2).sum(1) + residue / sigma[-1] ** 2).mean().to(c.dtype)


def hist_loss(c: torch.Tensor, f: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """L_hist (Eq. 2): the squared error of every pixel weighted by ``weights`` (N, H, W), the inverse prior
    probability 1 / H_p of the pixel's true colour bin, summed over the field."""
    return (weights * (c - f).pow(2).sum(1)).sum((1, 2)).mean()


def grad_loss(c: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """L_grad (Eq. 3): the squared error of the horizontal and vertical finite differences."""
    dh = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dv = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return ((dh(c) - dh(f)).pow(2).sum((1, 2, 3)) + (dv(c) - dv(f)).pow(2).sum((1, 2, 3))).mean()


def decoder_loss(c, f, weights, P, sigma, lambda_mah: float = LAMBDA_MAH, lambda_grad: float = LAMBDA_GRAD):
    """L_dec = L_hist + lambda_mah L_mah + lambda_grad L_grad (Eq. 4)."""
    return hist_loss(c, f, weights) + lambda_mah * mahalanobis_loss(c, f, P, sigma) + lambda_grad * grad_loss(c, f)


def vae_loss(decoder_term: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, kl_weight: float = KL_WEIGHT):
    """The VAE's objective: the decoder loss plus the encoder's KL to N(0, I), weighted 1e-2 (sec. 3)."""
    return decoder_term + kl_weight * kl_standard_normal(mu, logvar)


# ---------------------------------------------------------------------------------------------
# The MDN's losses (sec. 4): logits (N, M), means (N, M, d), target codes z (N, d)


def mdn_closest_loss(logits: torch.Tensor, means: torch.Tensor, z: torch.Tensor,
                     variance: float = MDN_VARIANCE) -> torch.Tensor:
    """Eq. 6: m = argmin_i ||z - mu_i||, loss -log pi_m + ||z - mu_m||^2 / (2 sigma^2)."""
    dist2 = (z[:, None, :] - means).pow(2).sum(2)
    m = dist2.argmin(1)
    rows = torch.arange(len(z))
    return (-F.log_softmax(logits, 1)[rows, m] + dist2[rows, m] / (2 * variance)).mean()


def _log_gauss(means: torch.Tensor, z: torch.Tensor, variance: float) -> torch.Tensor:
    """log N(z | mu_i, variance I) for every component: (N, M)."""
    d = z.shape[1]
    return -(z[:, None, :] - means).pow(2).sum(2) / (2 * variance) - 0.5 * d * math.log(2 * math.pi * variance)


def mdn_nll(logits: torch.Tensor, means: torch.Tensor, z: torch.Tensor, variance: float = MDN_VARIANCE) -> torch.Tensor:
    """Eq. 5 computed stably: -log sum_i pi_i N(z | mu_i, sigma^2 I) as a log-sum-exp of log pi_i + log N_i."""
    return -torch.logsumexp(F.log_softmax(logits, 1) + _log_gauss(means, z, variance), 1).mean()


def mdn_nll_naive(logits: torch.Tensor, means: torch.Tensor, z: torch.Tensor,
                  variance: float = MDN_VARIANCE) -> torch.Tensor:
    """Eq. 5 as written, per item (N,): the densities exponentiated first, then summed and logged. In float32
    exp(x) is 0 below x = -103.97, so once every ||z - mu_i||^2 exceeds about 2 sigma^2 (104 + the normaliser's
    log), the sum is 0 and the loss infinite."""
    return -torch.log((torch.softmax(logits, 1) * _log_gauss(means, z, variance).exp()).sum(1))


def top_means(logits: torch.Tensor, means: torch.Tensor, k: int = TOP_K) -> tuple[torch.Tensor, torch.Tensor]:
    """The k means with the largest mixture weights, in decreasing order (sec. 6.2): (N, k, d) and their weights."""
    weights, order = torch.softmax(logits, 1).sort(1, descending=True)
    return means.gather(1, order[:, :k, None].expand(-1, -1, means.shape[2])), weights[:, :k]
