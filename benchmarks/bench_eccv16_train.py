"""Training throughput of the full-size ECCV16 network (Zhang et al. 2016): fp32 vs mixed precision.

The paper's setting: 176x176 crops, batch 40, the rebalanced soft cross-entropy loss. Each variant runs
``--warmup`` steps, then ``--steps`` timed steps (CUDA: synchronised before reading the clock); we report the
median step time, images/s and the achieved FLOP/s, counting 2 FLOPs per multiply-accumulate of every
convolution and transposed convolution, times 3 for forward + backward (the usual estimate).

    python benchmarks/bench_eccv16_train.py                 # on a GPU: fp32 and AMP + channels-last
    python benchmarks/bench_eccv16_train.py --batch 4 --size 64 --steps 5   # a quick look on a CPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from reprolib import quantize
from reprolib.chapters.automatic.experiment import classification_loss
from reprolib.models import ECCV16


def conv_flops(model: nn.Module, x: torch.Tensor) -> int:
    """Forward FLOPs (2 per multiply-accumulate) of every conv / transposed conv for input ``x``."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += 2 * k * output.numel()
        elif isinstance(module, nn.ConvTranspose2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            total += 2 * k * inputs[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


def run(device: torch.device, batch: int, size: int, steps: int, warmup: int, amp: bool, channels_last: bool) -> dict:
    torch.manual_seed(0)
    model = ECCV16(width=1.0).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-5, betas=(0.9, 0.99),
                           weight_decay=1e-3)
    weights = torch.ones(quantize.NUM_AB_BINS, device=device)
    L = torch.rand(batch, 1, size, size, device=device) * 100
    ab = (torch.rand(batch, 2, size, size, device=device) - 0.5) * 120
    if channels_last:
        L = L.contiguous(memory_format=torch.channels_last)
    dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            logits = model(L)
        loss = classification_loss(logits.float(), ab, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    flops = 3 * conv_flops(model, L)
    step = statistics.median(times)
    return {"step_ms": 1e3 * step, "images_per_s": batch / step, "tflops": flops / step / 1e12}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--size", type=int, default=176)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    variants = [("fp32", False, False)]
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        variants += [("AMP", True, False), ("AMP + channels-last", True, True)]
    print(f"ECCV16 (32.2 M parameters) training step, batch {args.batch}, {args.size}x{args.size}, on {name}; "
          f"median of {args.steps} steps\n")
    print("| variant | step (ms) | images/s | achieved TFLOP/s |\n|---|---|---|---|")
    for label, amp, cl in variants:
        r = run(device, args.batch, args.size, args.steps, args.warmup, amp, cl)
        print(f"| {label} | {r['step_ms']:.1f} | {r['images_per_s']:.1f} | {r['tflops']:.2f} |")


if __name__ == "__main__":
    main()
