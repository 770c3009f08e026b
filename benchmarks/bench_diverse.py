"""Cost of the diverse-colorization networks (Deshpande et al. 2017) on this machine, to size Chapter 6's profiles.

One Adam update of each VAE (``ours``: the decoder from z alone; ``skip``: ours+skip; ``cvae``) on ``--batch``
ColorWorld colour fields with the full decoder loss of Eq. 4 (the per-pixel inverse-prior weights looked up
for every field, the Mahalanobis term on 20 principal directions, the gradient term) plus the weighted KL; then
one update of the MDN on grey-level feature maps of Chapter 1's size for the profile (``--feature-channels``
x ``--feature-side``) with the closest-component loss of Eq. 6. Rendering the scenes is timed apart. Medians
over ``--steps`` timed updates after ``--warmup``.

    python benchmarks/bench_diverse.py                         # 64 px, width 1/16 and 1/8, batch 32
    python benchmarks/bench_diverse.py --widths 0.25 --batch 64
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reprolib.color import normalize_l, rgb_to_l_ab
from reprolib.data import ColorWorld
from reprolib.models import divcolor as dc
from reprolib.nn.latent import reparameterize
from reprolib.quantize import NUM_AB_BINS, pixel_weights


def fields_of(world: ColorWorld, indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grey (N, 1, H, W) as L/100 - 0.5, colour fields ab/128, the true ab in Lab units)."""
    L, ab = rgb_to_l_ab(world.batch(list(indices))["rgb"])
    return normalize_l(L), ab / dc.AB_SCALE, ab


def timed(step, n_warmup: int, n_steps: int) -> float:
    times = []
    for i in range(n_warmup + n_steps):
        t0 = time.perf_counter()
        step(i)
        if i >= n_warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(args) -> None:
    n = (args.warmup + args.steps) * args.batch
    world = ColorWorld(n=n, size=args.size, seed=0, max_objects=1)
    batches = [fields_of(world, range(i * args.batch, (i + 1) * args.batch)) for i in range(args.warmup + args.steps)]
    ms = timed(lambda i: fields_of(world, range(i * args.batch, (i + 1) * args.batch)), args.warmup, args.steps)
    print(f"data: rendering {args.batch} scenes and converting them {1000 * ms:7.1f} ms")
    inverse_prior = torch.full((NUM_AB_BINS,), float(NUM_AB_BINS))  # 1 / H for a uniform H: the cost is the same
    ms = timed(lambda i: pixel_weights(batches[i][2], inverse_prior), args.warmup, args.steps)
    print(f"data: the per-pixel weights 1/H_p of {args.batch} fields {1000 * ms:7.1f} ms (can be computed once per field)")
    P, sigma = dc.fit_pca(torch.cat([b[1] for b in batches]), k=dc.PCA_COMPONENTS)
    weights = [pixel_weights(b[2], inverse_prior) for b in batches]
    for width in args.widths:
        for kind in ("ours", "skip", "cvae"):
            torch.manual_seed(0)
            vae = dc.DivColorVAE(kind, size=args.size, width=width)
            opt = torch.optim.Adam(vae.parameters(), lr=1e-4)

            def step(i):
                grey, c, _ = batches[i]
                opt.zero_grad()
                mu, logvar = vae.encode(c, grey)
                f = vae.decode(reparameterize(mu, logvar), grey)
                loss = dc.vae_loss(dc.decoder_loss(c, f, weights[i], P.float(), sigma.float()), mu, logvar)
                loss.backward()
                opt.step()

            ms = timed(step, args.warmup, args.steps)
            print(f"VAE {kind:4s} width {width:<7.4g}: {1000 * ms:7.1f} ms/update, {args.batch / (ms):6.0f} fields/s")
        torch.manual_seed(0)
        mdn = dc.MDN(args.feature_channels, args.feature_side, width=width)
        opt = torch.optim.Adam(mdn.parameters(), lr=1e-4)
        feats = torch.randn(args.batch, args.feature_channels, args.feature_side, args.feature_side)
        codes = torch.randn(args.batch, dc.D)

        def mdn_step(i):
            opt.zero_grad()
            dc.mdn_closest_loss(*mdn(feats), codes).backward()
            opt.step()

        ms = timed(mdn_step, args.warmup, args.steps)
        print(f"MDN on {args.feature_channels} x {args.feature_side} x {args.feature_side} features, width {width:<7.4g}: "
              f"{1000 * ms:7.1f} ms/update")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--widths", type=float, nargs="+", default=[1 / 16, 1 / 8])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--feature-channels", type=int, default=64, help="Chapter 1's fast profile: 64 (width 1/8)")
    p.add_argument("--feature-side", type=int, default=8, help="Chapter 1's fast profile: 64 px / 8")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
          f"{args.size} px, batch {args.batch}")
    bench(args)


if __name__ == "__main__":
    main()
