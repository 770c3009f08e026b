"""How fast ColorWorld renders: median images per second at several sizes (a markdown table).

    python benchmarks/bench_colorworld.py                 # 2 CPU threads, sizes 32 64 128
    python benchmarks/bench_colorworld.py --device cuda   # render on a GPU

Each measurement renders a fresh block of indices with ``ds.batch`` (parameter draw included), so no
cache helps; the first block is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reprolib.data import ColorWorld


def bench(size: int, batch: int, repeats: int, device: str | None) -> tuple[float, float]:
    """(median images/s of ds.batch, median images/s of the parameter draw alone)."""
    ds = ColorWorld(batch * (repeats + 1), size=size, seed=0)
    ds.batch(range(batch), device=device)  # warm-up
    full, params = [], []
    for r in range(1, repeats + 1):
        idx = range(r * batch, (r + 1) * batch)
        if device and device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        ds.batch(idx, device=device)
        if device and device.startswith("cuda"):
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        ds.sample_params(idx)
        t2 = time.perf_counter()
        full.append(batch / (t1 - t0))
        params.append(batch / (t2 - t1))
    return statistics.median(full), statistics.median(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--batch", type=int, default=512, help="images per ds.batch call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="render on this device (default: CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    where = args.device or f"CPU, {args.threads} threads"
    print(f"ColorWorld rendering speed ({where}, batch {args.batch}, median of {args.repeats}; torch "
          f"{torch.__version__})\n")
    print("| size | images/s (ds.batch) | parameter draw alone, images/s |")
    print("|---:|---:|---:|")
    for size in args.sizes:
        full, params = bench(size, args.batch, args.repeats, args.device)
        print(f"| {size} | {full:,.0f} | {params:,.0f} |")


if __name__ == "__main__":
    main()
