"""Benchmark: soft-encoding of ground-truth ab (Zhang et al. 2016, footnote 1) on the CPU.

Compares ``reprolib.quantize`` with a baseline written the way the released Caffe layer
(``NNEncLayer`` in ``resources/caffe_traininglayers.py``) does it: scikit-learn ``NearestNeighbors``
with a ball tree over the 313 bins, Gaussian weights, and a dense (pixels x 313) array. Both implement
the same definition (k nearest bins, weights exp(-d^2 / 2 sigma^2), normalised), and the script checks
that they agree before it times them.

Workloads (natural-photo colours: random crops of the colour photos shipped with scikit-image):

* ``train-56``: batch 40 of 56 x 56 target ab, i.e. a 224 crop sub-sampled by 4 (``ab[:, :, ::4, ::4]``)
  as in the released training net;
* ``64x64``: batch 64 of 64 x 64 crops.

Two timings per row: the **sparse** result (indices and weights of the k nearest bins, what a loss
needs) and the **dense** ``(N, 313, H, W)`` target. Times are medians over ``--repeats`` runs, after
one warm-up call that builds reprolib's lookup table (and after the ball tree is fitted): both are
one-off costs per bin set, reported separately ("setup").

What each side includes: baseline sparse = ``kneighbors`` (ball tree) + Gaussian weights +
normalisation, from a channels-first float32 array; baseline dense = sparse + ``np.zeros((P, 313))``
+ fancy-index assignment + the (N, 313, H, W) transposed view. reprolib sparse =
``soft_encode_topk`` (input checks, table lookup, weights); reprolib dense = ``soft_encode``
(``soft_encode_topk`` + zeros + scatter into a contiguous (N, 313, H, W) tensor).

Run:  ``python benchmarks/bench_soft_encoding.py [--repeats 7] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from skimage import data as skdata
from sklearn.neighbors import NearestNeighbors

from reprolib import quantize
from reprolib.color import rgb_to_lab
from reprolib.quantize import ab_bins, soft_encode, soft_encode_topk

from _timing import median_time

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


def load_photos() -> list[torch.Tensor]:
    photos = []
    for name in PHOTOS:
        img = getattr(skdata, name)()
        if isinstance(img, tuple):  # some skimage datasets return (image, ...) pairs
            img = img[0]
        photos.append(torch.from_numpy(np.ascontiguousarray(img[..., :3])).permute(2, 0, 1).float() / 255)
    return photos


def random_crops(photos, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    crops = []
    for _ in range(n):
        img = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        top = int(torch.randint(img.shape[1] - size + 1, (1,), generator=gen))
        left = int(torch.randint(img.shape[2] - size + 1, (1,), generator=gen))
        crops.append(img[:, top : top + size, left : left + size])
    return torch.stack(crops)


# ----------------------------------------------------------------------------------------------
# Baseline: the released code's recipe (sklearn ball tree + dense numpy array)
# ----------------------------------------------------------------------------------------------


class SklearnSoftEncoder:
    def __init__(self, bins: np.ndarray, k: int, sigma: float):
        self.bins, self.k, self.sigma = bins, k, sigma
        self.nbrs = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(bins)

    def sparse(self, ab: np.ndarray):
        N, _, H, W = ab.shape
        flat = ab.transpose(0, 2, 3, 1).reshape(-1, 2)
        dists, inds = self.nbrs.kneighbors(flat)
        wts = np.exp(-(dists**2) / (2 * self.sigma**2))
        wts /= wts.sum(axis=1, keepdims=True)
        return inds, wts

    def dense(self, ab: np.ndarray) -> np.ndarray:
        N, _, H, W = ab.shape
        inds, wts = self.sparse(ab)
        enc = np.zeros((inds.shape[0], len(self.bins)), dtype=ab.dtype)
        enc[np.arange(inds.shape[0])[:, None], inds] = wts
        return enc.reshape(N, H, W, -1).transpose(0, 3, 1, 2)  # (N, Q, H, W) view, as the layer returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--sigma", type=float, default=5.0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    photos = load_photos()
    workloads = {
        "train-56 (40x2x56x56)": rgb_to_lab(random_crops(photos, 40, 224, gen))[:, 1:, ::4, ::4].contiguous(),
        "64x64 (64x2x64x64)": rgb_to_lab(random_crops(photos, 64, 64, gen))[:, 1:].contiguous(),
    }
    bins = ab_bins(torch.float32)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), sigma={args.sigma}, "
        f"median of {args.repeats}\n"
    )
    for k in (5, 10):  # one-off setup costs, excluded from the timings below
        quantize._TABLE_CACHE.clear()
        t0 = time.perf_counter()
        soft_encode_topk(torch.zeros(1, 2, 1, 1), k=k)
        t_table = time.perf_counter() - t0
        t0 = time.perf_counter()
        SklearnSoftEncoder(bins.numpy(), k, args.sigma)
        t_tree = time.perf_counter() - t0
        print(f"setup, k={k}: reprolib lookup table {t_table * 1e3:.0f} ms, sklearn ball tree {t_tree * 1e3:.1f} ms")
    print()
    print("| workload | k | output | sklearn ball_tree (ms) | reprolib (ms) | speed-up |")
    print("|---|---|---|---|---|---|")
    checks = []
    for name, ab in workloads.items():
        ab_np = ab.numpy()
        for k in (5, 10):
            base = SklearnSoftEncoder(bins.numpy(), k, args.sigma)
            # correctness: same targets (dense) ...
            ref = torch.from_numpy(np.ascontiguousarray(base.dense(ab_np)))
            ours = soft_encode(ab, k=k, sigma=args.sigma)
            diff = (ref - ours).abs().max().item()
            n_diff = int(((ref > 0) != (ours > 0)).any(1).sum())
            # ... and where the chosen bins differ, it is a tie: the k nearest distances agree
            base_d = np.sort(base.nbrs.kneighbors(ab_np.transpose(0, 2, 3, 1).reshape(-1, 2))[0], axis=1)
            idx, _ = soft_encode_topk(ab, k=k, sigma=args.sigma)
            ours_d = (ab.unsqueeze(2) - bins[idx].permute(0, 4, 1, 2, 3)).norm(dim=1)  # (N, k, H, W)
            ours_d = ours_d.permute(0, 2, 3, 1).reshape(-1, k).sort(1).values.double()
            d_diff = (ours_d - torch.from_numpy(base_d)).abs().max().item()
            checks.append(
                f"{name}, k={k}: max |target difference| {diff:.1e}; {n_diff} of {ours_d.shape[0]} pixels "
                f"pick a different set of bins; max |difference of the k nearest distances| {d_diff:.1e}"
                + (" (so the differing pixels are exact ties at the k-th distance)" if n_diff else "")
            )
            rows = (
                ("sparse", lambda: base.sparse(ab_np), lambda: soft_encode_topk(ab, k=k, sigma=args.sigma)),
                ("dense", lambda: base.dense(ab_np), lambda: soft_encode(ab, k=k, sigma=args.sigma)),
            )
            for out, f_base, f_ours in rows:
                t_base = median_time(f_base, args.repeats)
                t_ours = median_time(f_ours, args.repeats)
                print(
                    f"| {name} | {k} | {out} | {t_base * 1e3:.1f} | {t_ours * 1e3:.1f} | "
                    f"{t_base / t_ours:.1f}x |"
                )
    print("\nAgreement with the baseline:")
    for line in checks:
        print(f"- {line}")


if __name__ == "__main__":
    main()
