"""Benchmark: ``reprolib.color.rgb_to_lab`` (torch, float32 and float64) against ``skimage.color.rgb2lab``.

Workload: a batch of 64 random 256 x 256 sRGB images (uniform noise: every part of the gamut, both
branches of both knees). Reports the median time over ``--repeats`` runs and the largest absolute
difference in Lab units against skimage (float64), plus the round trip ``lab_to_rgb(rgb_to_lab(x))``.

Run:  ``python benchmarks/bench_rgb2lab.py [--batch 64] [--size 256] [--repeats 5] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab

from reprolib.color import lab_to_rgb, rgb_to_lab

from _timing import median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    rgb64 = torch.rand(args.batch, 3, args.size, args.size, generator=gen, dtype=torch.float64)
    rgb32 = rgb64.float()
    rgb_np = np.ascontiguousarray(rgb64.permute(0, 2, 3, 1).numpy())  # skimage wants channels last
    lab_ref = rgb2lab(rgb_np)  # (N, H, W, 3) float64
    lab_ref_t = torch.from_numpy(lab_ref).permute(0, 3, 1, 2)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); batch {args.batch} x 3 x "
        f"{args.size} x {args.size}, median of {args.repeats}\n"
    )
    print("| implementation | rgb -> lab (ms) | speed-up vs skimage | max abs Lab error vs skimage | "
          "lab -> rgb (ms) | max abs round-trip RGB error |")
    print("|---|---|---|---|---|---|")
    t_sk = median_time(lambda: rgb2lab(rgb_np), args.repeats)
    t_sk_back = median_time(lambda: lab2rgb(lab_ref), args.repeats)
    rt_sk = np.abs(lab2rgb(lab_ref) - rgb_np).max()
    print(f"| skimage rgb2lab / lab2rgb (float64, channels last) | {t_sk * 1e3:.0f} | 1.0x | 0 (reference) | "
          f"{t_sk_back * 1e3:.0f} | {rt_sk:.1e} |")
    for name, rgb in (("float32", rgb32), ("float64", rgb64)):
        lab = rgb_to_lab(rgb)
        err = (lab.double() - lab_ref_t).abs().max().item()
        rt = (lab_to_rgb(lab).double() - rgb64).abs().max().item()
        t = median_time(lambda: rgb_to_lab(rgb), args.repeats)
        t_back = median_time(lambda: lab_to_rgb(lab), args.repeats)
        print(f"| reprolib rgb_to_lab / lab_to_rgb ({name}, channels first) | {t * 1e3:.0f} | "
              f"{t_sk / t:.1f}x | {err:.1e} | {t_back * 1e3:.0f} | {rt:.1e} |")


if __name__ == "__main__":
    main()
