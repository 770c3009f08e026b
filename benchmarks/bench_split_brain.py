"""Cost of the split-brain chapter's two workloads on this machine, to size its profiles: one training update
of a cross-channel encoder on ColorWorld scenes, and one linear probe (feature extraction and the fit).

Training: ``--batch`` scenes rendered per update, converted to normalised Lab, one Adam step of
``cross_channel_loss`` for L -> ab (cl, 313 classes), ab -> L (cl, 50 classes) and Lab -> Lab (reg), at the
width of a full network and of one split half. Probe: conv1..conv5 features of ``--probe-train`` +
``--probe-test`` scenes resized to ``--budget`` features each, then ``LinearProbe`` fitted on the 8 object
classes; the ImageNet AlexNet reference's features of the same scenes. Medians over ``--steps`` timed updates (after ``--warmup``) and over ``--repeats`` probes.

    python benchmarks/bench_split_brain.py                       # 64 px, width 1/8, batch 32
    python benchmarks/bench_split_brain.py --width 0.25 --budget 2048
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reprolib.color import normalize_ab, normalize_l, rgb_to_l_ab
from reprolib.data import ColorWorld
from reprolib.metrics.probe import LinearProbe, extract_features
from reprolib.models.splitbrain import LAYERS, CrossChannel, ImageNetAlexNet, cross_channel_loss


def lab_of(world: ColorWorld, indices) -> tuple[torch.Tensor, torch.Tensor]:
    out = world.batch(list(indices))
    L, ab = rgb_to_l_ab(out["rgb"])
    return torch.cat([normalize_l(L), normalize_ab(ab)], 1), out["label"]


def bench_training(args) -> None:
    world = ColorWorld(n=(args.warmup + args.steps) * args.batch, size=args.size, seed=0)
    times = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        lab_of(world, range(step * args.batch, (step + 1) * args.batch))
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    print(f"data: rendering {args.batch} scenes and converting them to normalised Lab "
          f"{1000 * statistics.median(times):7.1f} ms (included in every update below; the chapter's runs render "
          f"each batch once and reuse it for every representation)")
    for width, what in ((args.width, "full width"), (args.width / 2, "one half")):
        for source, target, loss in (("L", "ab", "cl"), ("ab", "L", "cl"), ("Lab", "Lab", "reg")):
            torch.manual_seed(0)
            net = CrossChannel(source, target, loss, width=width)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            times = []
            for step in range(args.warmup + args.steps):
                t0 = time.perf_counter()
                lab, _ = lab_of(world, range(step * args.batch, (step + 1) * args.batch))
                opt.zero_grad()
                cross_channel_loss(net, lab).backward()
                opt.step()
                if step >= args.warmup:
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"train {source:>3s} -> {target:3s} ({loss:3s}), {what:10s} (width {width:.4g}): "
                  f"{1000 * med:7.1f} ms/update, {args.batch / med:6.0f} images/s")


def bench_probe(args) -> None:
    world = ColorWorld(n=args.probe_train + args.probe_test, size=args.size, seed=1)
    net = CrossChannel("L", "ab", "cl", width=args.width)
    lab, labels = lab_of(world, range(len(world)))
    batches = list(lab.split(256))
    times_x, times_fit = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        feats = extract_features(net.features, batches, LAYERS, args.budget)
        times_x.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for name in LAYERS:
            x = feats[name]
            LinearProbe(world.num_classes, iterations=args.iterations).fit(x[: args.probe_train], labels[: args.probe_train])
        times_fit.append(time.perf_counter() - t0)
    print(f"probe: features of {len(world)} scenes at 5 layers {statistics.median(times_x):6.2f} s; 5 fits on "
          f"{args.probe_train} x ~{args.budget} features ({args.iterations} L-BFGS iterations) "
          f"{statistics.median(times_fit):6.2f} s")
    if args.imagenet:
        ref = ImageNetAlexNet()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            extract_features(ref.features, batches, LAYERS, args.budget)
            times.append(time.perf_counter() - t0)
        print(f"probe: features of the ImageNet AlexNet (scenes enlarged {ref.scale}x) of {len(world)} scenes "
              f"{statistics.median(times):6.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=float, default=0.125, help="width multiplier of a full network")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--budget", type=int, default=1024, help="probe features per layer (the papers: about 9000)")
    p.add_argument("--probe-train", type=int, default=2000)
    p.add_argument("--probe-test", type=int, default=1000)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-imagenet", dest="imagenet", action="store_false",
                   help="skip the ImageNet AlexNet's features (they need the offline ImageNet weights)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
          f"{args.size} px, batch {args.batch}")
    bench_training(args)
    bench_probe(args)


if __name__ == "__main__":
    main()
