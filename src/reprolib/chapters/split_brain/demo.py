"""Chapter 4's demo and figure: what a layer knows, and what each half predicts.

:func:`live_demo` (a kernel needed) and :func:`static_demo` (the HTML twin, every combination precomputed):
pick a representation, a layer and a test scene; see the object-class probe's confusion matrix at that
layer, the test scene beside its nearest neighbours among the probe's training scenes in that feature space,
and both probes' accuracies. A colour-blind layer (L -> ab) finds neighbours of the same kind in any colour;
one that sees colour finds them in the same colour too.

:func:`half_predictions`: for the split-brain (cl, cl) network, the input, what each half is given, the
colorization of the L half (the annealed mean of its 313-way distribution) and the lightness the ab half
predicts (the expectation of its 50-way distribution), for the chapter's figure.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reprolib.book.widgets import live_explorer, static_explorer
from reprolib.chapters.split_brain.experiment import lab_batch
from reprolib.color import l_ab_to_rgb, unnormalize_ab, unnormalize_l
from reprolib.metrics.probe import LinearProbe, extract_features
from reprolib.models.splitbrain import LAYERS, lab_to_rgb_normalised
from reprolib.quantize import PAPER_T, annealed_mean, decode_l

DEMO_MODELS = ("split_brain_cl", "l_ab_cl", "ab_l_cl", "lab_lab", "gaussian", "supervised", "imagenet")
NEIGHBOURS = 4
CELL = 48  # pixels of a scene in the neighbour strip



def _confusion_image(pred: torch.Tensor, truth: torch.Tensor, k: int, cell: int = 12) -> np.ndarray:
    """Row-normalised confusion matrix (truth by row) as a (k cell, k cell, 3) image: white 0, dark blue 1."""
    m = torch.zeros(k, k)
    m.index_put_((truth, pred), torch.ones(len(truth)), accumulate=True)
    m = m / m.sum(1, keepdim=True).clamp_min(1)
    shade = 1 - m.numpy()[:, :, None] * np.array([0.85, 0.6, 0.2])
    return np.kron(shade, np.ones((cell, cell, 1)))


class LayerView:
    """Per (model, layer): the fitted object probe (the experiment's own, when it has run), its predictions on
    the test scenes, the colour probe's accuracy, and standardised features for nearest neighbours. Computed on
    first use, then kept."""

    def __init__(self, run):
        self.run, self.s = run, run.settings
        self.train = lab_batch(run.probe_train, range(len(run.probe_train)))
        self.test = lab_batch(run.probe_test, range(len(run.probe_test)))
        self._feats: dict = {}
        self._views: dict = {}

    def features(self, model: str) -> dict:
        if model not in self._feats:
            net = self.run.models[model]
            self._feats[model] = {split: extract_features(net.features, [b["lab"][i:i + 256].to(self.run.device)
                                                                         for i in range(0, len(b["lab"]), 256)],
                                                          LAYERS, self.s["budget"])
                                  for split, b in (("train", self.train), ("test", self.test))}
        return self._feats[model]

    def view(self, model: str, layer: str) -> dict:
        if (model, layer) not in self._views:
            f = self.features(model)
            xtr, xte = f["train"][layer].cpu(), f["test"][layer].cpu()
            k = self.run.probe_train.num_classes
            probe = self.run.probes.get((model, layer))  # the experiment's fit, else the same protocol here
            if probe is None:
                probe = LinearProbe(k, iterations=self.s["probe_iterations"]).fit(xtr, self.train["label"])
            pred = probe.predict(xte)
            colour = self.run.metrics["accuracy"]["colour"][model][layer] if self.run.metrics else None
            z = lambda x: (x.double() - probe.mean) / probe.std  # noqa: E731
            self._views[(model, layer)] = {"pred": pred, "confusion": _confusion_image(pred, self.test["label"], k),
                                           "accuracy": float((pred == self.test["label"]).double().mean()),
                                           "colour": colour, "ztrain": z(xtr), "ztest": z(xte)}
        return self._views[(model, layer)]

    def neighbours(self, model: str, layer: str, scene: int) -> torch.Tensor:
        """The test scene and its NEIGHBOURS nearest training scenes (Euclidean, standardised features), as one
        RGB strip (3, CELL, (1 + NEIGHBOURS) CELL)."""
        v = self.view(model, layer)
        d = (v["ztrain"] - v["ztest"][scene]).pow(2).sum(1)
        near = d.topk(NEIGHBOURS, largest=False).indices
        images = torch.cat([self.test["lab"][scene:scene + 1], self.train["lab"][near]])
        up = F.interpolate(lab_to_rgb_normalised(images), size=(CELL, CELL), mode="nearest")
        return torch.cat(list(up), 2)

    def render(self, model: str, layer: str, scene: int):
        v = self.view(model, layer)
        name = lambda c: self.run.probe_test.classes[int(c)].name  # noqa: E731
        colour = "" if v["colour"] is None else f"; colour-mode probe {v['colour']:.1%}"
        text = (f"{model} {layer}: object-class probe {v['accuracy']:.1%}{colour}; scene {scene} is a "
                f"{name(self.test['label'][scene])}, the probe says {name(v['pred'][scene])}")
        return [v["confusion"], self.neighbours(model, layer, scene)], text


PANELS = ("object probe: confusion (rows: true class)", f"the scene, then its {NEIGHBOURS} nearest training scenes")


def _controls(run, scenes: int, models):
    names = [m for m in (models or DEMO_MODELS) if m in run.models]
    return [("model", "representation", "select", [(m, m) for m in names]),
            ("layer", "layer", "select", [(layer, layer) for layer in LAYERS]),
            ("scene", "test scene", "select", [(f"test scene {i}", i) for i in range(scenes)])]


def live_demo(run, scenes: int = 8, models=None):
    view = LayerView(run)
    return live_explorer(view.render, _controls(run, scenes, models), description="What a layer knows",
                         panel_titles=list(PANELS))


STATIC_MODELS = ("split_brain_cl", "l_ab_cl", "ab_l_cl", "gaussian")  # the page holds every frame: four models


def static_demo(run, scenes: int = 2, models=STATIC_MODELS):
    view = LayerView(run)
    return static_explorer(view.render, _controls(run, scenes, models), title="What a layer knows (precomputed)",
                           panel_titles=list(PANELS))


@torch.no_grad()
def half_predictions(net, lab: torch.Tensor, T: float = PAPER_T) -> dict:
    """For a split-brain (cl, cl) network and normalised Lab scenes (N, 3, H, W): RGB images (N, 3, H, W) of the
    input, of the L half's input (grey), of the ab half's input (its colours at L = 50), of the L half's
    colorization (annealed mean at temperature T, upsampled, with the true L) and of the ab half's predicted
    lightness (the expectation over its 50 classes, upsampled, shown grey)."""
    colour_half, grey_half = net.halves
    if (colour_half.source, colour_half.loss, grey_half.source, grey_half.loss) != ("L", "cl", "ab", "cl"):
        raise ValueError("half_predictions takes the split-brain (cl, cl) network: an L -> ab and an ab -> L half, "
                         "both classifying")
    size = lab.shape[-2:]
    L = unnormalize_l(lab[:, :1]).clamp(0, 100)
    ab = F.interpolate(annealed_mean(colour_half(lab), T=T), size=size, mode="bilinear", align_corners=False)
    p = torch.softmax(grey_half(lab), 1)
    centres = decode_l(torch.arange(p.shape[1]))[None, :, None, None]
    L_hat = F.interpolate((p * centres).sum(1, keepdim=True), size=size, mode="bilinear", align_corners=False)
    grey = lambda x: l_ab_to_rgb(x.clamp(0, 100), torch.zeros_like(lab[:, 1:]))  # noqa: E731
    return {"input": lab_to_rgb_normalised(lab), "L half sees": grey(L),
            "ab half sees": l_ab_to_rgb(torch.full_like(L, 50.0), unnormalize_ab(lab[:, 1:])),
            "L half colours": l_ab_to_rgb(L, ab), "ab half's lightness": grey(L_hat)}
