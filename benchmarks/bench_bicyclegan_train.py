"""Training throughput of the six BicycleGAN-chapter variants on ColorWorld (one update = the released code's
order: G/E losses, latent loss with E frozen, E and G steps, then D and D2).

The workload is the chapter's: ColorWorld scenes rendered for each step (L -> A, Lab -> B), a batch split in
two halves (one per training cycle), two-scale PatchGAN discriminators. Each variant runs ``--warmup``
updates, then ``--steps`` timed ones (CUDA: synchronised before reading the clock); we report the median
update time (rendering included) and images per second.

    python benchmarks/bench_bicyclegan_train.py                     # the fast profile's sizes on this machine
    python benchmarks/bench_bicyclegan_train.py --size 64 --ngf 32  # the full profile's, on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reprolib.color import normalize_l, rgb_to_l_ab
from reprolib.config import get_device
from reprolib.data import ColorWorld
from reprolib.models.bicyclegan import VARIANTS, BicycleGAN, make_optimizers, train_step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--ngf", type=int, default=16, help="width of G, E and D (ngf = nef = ndf)")
    p.add_argument("--batch", type=int, default=16, help="images per update (two halves)")
    p.add_argument("--d-layers", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(None, quiet=True)
    world = ColorWorld(n=(args.warmup + args.steps) * args.batch, size=args.size, seed=0)
    print(f"device {device}, CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} "
          f"threads; size {args.size}, width {args.ngf}, batch {args.batch}, D layers {args.d_layers}")
    for name in args.variants.split(","):
        torch.manual_seed(0)
        net = BicycleGAN(name, args.size, ngf=args.ngf, nef=args.ngf, ndf=args.ngf, d_layers=args.d_layers).to(device)
        opts = make_optimizers(net)
        times = []
        for step in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            rgb = world.batch(range(step * args.batch, (step + 1) * args.batch), device=device)["rgb"]
            L, ab = rgb_to_l_ab(rgb)
            A = normalize_l(L)
            train_step(net, {"A": A, "B": torch.cat([A, ab / 110], 1)}, opts)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= args.warmup:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"{VARIANTS[name].label:14s} median {1000 * med:7.1f} ms/update  {args.batch / med:8.0f} images/s")


if __name__ == "__main__":
    main()
