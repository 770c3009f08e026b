"""Benchmark: LPIPS (v0.1) throughput on 64 x 64 patches, the paper's training and evaluation setting.

Workload: batches of ``--batch`` pairs of random 64 x 64 RGB patches in [-1, 1] (BAPPS patches are 64 x 64,
batch 50: reference-facts sec. 5.3). For each trunk, the median wall time of a forward pass without
gradients (evaluation) and of a forward + backward pass into the linear layers (training the "lin"
weights, trunk frozen), reported as image pairs per second. Needs the converted weights (``make setup``).

Run:  ``python benchmarks/bench_lpips.py [--nets alex vgg] [--batch 50] [--repeats 5] [--threads 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import os
import platform

import torch

from reprolib.metrics.lpips import LPIPS

from _timing import median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=["alex", "vgg"], choices=["alex", "vgg"])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    gen = torch.Generator().manual_seed(0)
    x0 = (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
    x1 = (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(
        f"machine: {name}, {os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads); batch {args.batch} pairs of {args.size} x {args.size}, median of {args.repeats}\n"
    )
    print("| metric | forward, no grad (ms) | pairs/s | forward + backward to lin (ms) | pairs/s |")
    print("|---|---|---|---|---|")
    for net in args.nets:
        model = LPIPS(net).to(device)

        def evaluate() -> None:
            with torch.no_grad():
                model(x0, x1)
            sync()

        def train_step() -> None:
            model.zero_grad(set_to_none=True)
            model(x0, x1).sum().backward()
            sync()

        t_eval = median_time(evaluate, args.repeats)
        t_train = median_time(train_step, args.repeats)
        print(f"| LPIPS-{net} v0.1 | {t_eval * 1e3:.0f} | {args.batch / t_eval:.0f} | "
              f"{t_train * 1e3:.0f} | {args.batch / t_train:.0f} |")


if __name__ == "__main__":
    main()
