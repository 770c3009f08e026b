"""Cost of the exemplar-based colorization's pieces (He et al. 2018) on this machine, to size Chapter 7's profiles.

On ColorWorld scenes of ``--size`` pixels, medians over ``--repeats`` timed calls after one warm-up:

1. the similarity sub-net's features: ImageNet VGG16 to relu5_1 on a batch of ``--batch`` grey images
   (``nn.correspondence.feature_pyramid``; computed once per image of a pool);
2. the matching step for ``--batch`` pairs from those features: descriptors, exhaustive nearest cells in both
   directions, lift to pixels (``nn.correspondence.correspond``);
3. the ten similarity maps of Eq. 1 for the same pairs (``nn.correspondence.similarity_maps``);
4. the perceptual loss of Eq. 6 (VGG16 relu5_1) forward and backward to its input for ``--batch`` images
   (``nn.feature_loss.FeatureLoss``): the extra cost of the perceptual branch per image;
5. one Adam update of the colorization sub-net (``models.exemplar.ExampleColorNet`` at each of ``--widths``) on
   ``--batch`` pairs: with the chrominance loss only, and with the two branches of Eq. 7 (half the batch each).

    python benchmarks/bench_exemplar.py                    # 64 px, batch 16
    python benchmarks/bench_exemplar.py --size 96 --batch 8 --threads 2
"""

from __future__ import annotations

import argparse

import torch
from _timing import median_time

from reprolib.color import rgb_to_l_ab
from reprolib.data import ColorWorld
from reprolib.nn import correspondence as cr
from reprolib.nn import vgg16_relu_x_1
from reprolib.nn.feature_loss import FeatureLoss
from reprolib.nn.pretrained import pretrained_backbone
from reprolib.models.exemplar import ExampleColorNet, assemble_input
from reprolib.models.siggraph17 import smooth_l1_loss


def bench(args) -> None:
    world = ColorWorld(n=2 * args.batch, size=args.size, seed=0)
    L, ab = rgb_to_l_ab(world.batch(list(range(2 * args.batch)))["rgb"])
    L_t, L_r = L[: args.batch], L[args.batch:]
    trunk = pretrained_backbone("vgg")
    taps = vgg16_relu_x_1(trunk)
    size = (args.size, args.size)
    n = args.batch
    with torch.no_grad():
        ms = 1000 * median_time(lambda: cr.feature_pyramid(taps, L_t), args.repeats)
        print(f"VGG16 to relu5_1, {n} grey images: {ms:8.1f} ms ({ms / n:6.2f} ms/image)")
        pyr_t, pyr_r = cr.feature_pyramid(taps, L_t), cr.feature_pyramid(taps, L_r)
        ms = 1000 * median_time(lambda: cr.correspond(pyr_t, pyr_r, size), args.repeats)
        cells = (args.size // cr.MATCH_STRIDE) ** 2
        print(f"matching, {n} pairs ({cells} x {cells} cells, both ways): {ms:8.1f} ms ({ms / n:6.2f} ms/pair)")
        cells_tr, cells_rt = cr.correspond(pyr_t, pyr_r, size)
        ms = 1000 * median_time(lambda: cr.similarity_maps(pyr_t, pyr_r, cells_tr, cells_rt, size), args.repeats)
        print(f"similarity maps (Eq. 1, 10 channels), {n} pairs: {ms:8.1f} ms ({ms / n:6.2f} ms/pair)")
    loss_fn = FeatureLoss(trunk)
    pred = (ab[:n] + 10 * torch.randn_like(ab[:n])).requires_grad_(True)

    def perceptual():
        pred.grad = None
        loss_fn(L_t, pred, ab[:n]).sum().backward()

    ms = 1000 * median_time(perceptual, args.repeats)
    print(f"perceptual loss (relu5_1) forward + backward, {n} images: {ms:8.1f} ms ({ms / n:6.2f} ms/image)")
    sim_tr, sim_rt = cr.similarity_maps(pyr_t, pyr_r, cells_tr, cells_rt, size)
    warped = cr.warped_reference(ab[n:], cr.lift_to_pixels(cells_tr, size))
    x = assemble_input(L_t, warped, sim_tr, sim_rt)
    for width in args.widths:
        net = ExampleColorNet(width=width)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        for branches in ("chrominance", "two"):
            def update():
                opt.zero_grad()
                pred = net(x)
                loss = smooth_l1_loss(pred, ab[:n], reduction="sum") / n
                if branches == "two":
                    k = n // 2
                    loss = (smooth_l1_loss(pred[:k], ab[:k], reduction="sum") / k
                            + 0.005 * loss_fn(L_t[k:], pred[k:], ab[k:n]).sum() / (n - k))
                loss.backward()
                opt.step()

            ms = 1000 * median_time(update, args.repeats)
            print(f"ExampleColorNet width {width:<6.4g} update, {n} pairs, {branches:11s}: {ms:8.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--widths", type=float, nargs="+", default=[1 / 8, 1 / 4])
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
          f"{args.size} px, batch {args.batch}")
    bench(args)


if __name__ == "__main__":
    main()
