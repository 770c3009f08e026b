"""Benchmark: how fast the live hint editor of Chapter 2 answers a click.

Workload: the chapter's fast-profile Local Hints Network (trained or loaded from the model cache), one
ColorWorld test image, and a click on a tile of the editor: place a hint there, compute the palette for that
pixel from the distribution head, colorize again and redraw. Reports the median over ``--clicks`` clicks on
different tiles.

Run:  ``python benchmarks/bench_hint_editor.py [--profile fast] [--clicks 9] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from reprolib.chapters import user_guided as chapter
from reprolib.chapters.user_guided import demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="fast", choices=["smoke", "fast", "full"])
    parser.add_argument("--clicks", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = chapter.prepare(args.profile)
    chapter.train_all(run)
    batch = chapter.lab_batch(run.test_set, [2])
    size = batch["L"].shape[-1]
    editor = demo.hint_editor(
        batch["L"], lambda L, h, m: run.colorize(L, h, m),
        palette=lambda logits, y, x: demo.suggestions(logits[0], y, x, (size, size)), grid=16, width=256)
    times = []
    for k in range(args.clicks):
        t = time.perf_counter()
        editor.click_tile(2 + k % 12, 3 + k % 12)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"profile {args.profile} ({size}x{size} image)")
    print(f"click -> hint + palette + colorization: median {1000 * times[len(times) // 2]:.0f} ms "
          f"(min {1000 * times[0]:.0f}, max {1000 * times[-1]:.0f}) over {len(times)} clicks")


if __name__ == "__main__":
    main()
