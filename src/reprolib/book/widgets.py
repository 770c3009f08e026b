"""Interactive demos: a live ipywidgets slider and its static HTML twin (DESIGN section 8.6).

Every chapter's demo has two forms, built from the same images:

* :func:`live_slider` re-renders on every change. It uses core ipywidgets only (SelectionSlider, Image,
  HTML, HBox/VBox, Output), so it works in Jupyter and Colab, and needs a kernel.
* :func:`static_slider` precomputes one frame per slider value and returns an object whose HTML holds
  every frame as a base64 PNG plus a few lines of inline JavaScript that swap the image on ``input``
  events. No kernel, no external script, no CDN: it works in the built Jupyter Book pages, in Colab, in
  Jupyter, and in a standalone file (:meth:`StaticSlider.save_html`). Where scripts do not run (GitHub's
  notebook viewer, untrusted notebooks) the initial frame still shows.

Images are ``(H, W, 3)`` / ``(H, W)`` numpy arrays (uint8, or float in [0, 1]) or torch tensors
``(3, H, W)`` / ``(H, W)`` in [0, 1] (channels-first, as elsewhere in reprolib).
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from pathlib import Path
from typing import Callable, Sequence

import ipywidgets as widgets
import numpy as np
from PIL import Image

__all__ = ["to_png_bytes", "to_uint8", "StaticSlider", "static_slider", "LiveSlider", "live_slider"]


# ----------------------------------------------------------------------------- images


def to_uint8(image) -> np.ndarray:
    """Convert an image to an (H, W) or (H, W, C) uint8 numpy array, C in {3, 4}.

    Accepts numpy (H, W), (H, W, 1|3|4) and torch (H, W), (1|3|4, H, W). uint8 is kept; floats must lie in
    [0, 1] (values within 0.01 outside are clipped; farther is an error, since it usually means 0-255
    floats or Lab values were passed).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of reprolib
        torch = None
    if torch is not None and isinstance(image, torch.Tensor):
        arr = image.detach().cpu()
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim == 3:
            if arr.shape[0] not in (1, 3, 4):
                raise ValueError(
                    f"a torch image must be (C, H, W) with C in 1, 3, 4 (channels first), got shape {tuple(arr.shape)}"
                )
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise TypeError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")

    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must be (H, W) or (H, W, 3|4) (numpy, channels last), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image is empty: shape {arr.shape}")

    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("float image contains NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -0.01 or hi > 1.01:
            raise ValueError(
                f"float images must be in [0, 1], got values in [{lo:.3g}, {hi:.3g}] "
                "(for 0-255 data pass uint8; for Lab convert with reprolib.color.lab_to_rgb first)"
            )
        return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise TypeError(f"image dtype must be uint8, bool or floating, got {arr.dtype}")


def enlarge(rgb, side: int):
    """A (3, H, W) torch image resized to (3, side, side) by nearest neighbour, so a panel keeps exactly the
    colours a model painted (the demos' panels)."""
    from torch.nn.functional import interpolate

    return interpolate(rgb[None], size=(side, side), mode="nearest")[0]


def to_png_bytes(image) -> bytes:
    """Encode an image (see :func:`to_uint8`) as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG")
    return buf.getvalue()


def _as_panels(frame) -> list:
    """A frame is one image or a list/tuple of images (panels shown side by side)."""
    return list(frame) if isinstance(frame, (list, tuple)) else [frame]


def _format_values(values: Sequence, value_format: str) -> list[str]:
    try:
        return [value_format.format(v) for v in values]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"value_format {value_format!r} cannot format the values: {exc}") from None


# ----------------------------------------------------------------------------- static (no kernel)


# The controller. ``root`` is found by id (unique per instance); all data sits in a JSON script tag.
_SCRIPT = """(function () {
  var root = document.getElementById("%(uid)s");
  if (!root) { return; }
  var data = JSON.parse(document.getElementById("%(uid)s-data").textContent);
  var slider = document.getElementById("%(uid)s-slider");
  var readout = document.getElementById("%(uid)s-value");
  var imgs = [];
  for (var p = 0; p < data.frames[0].length; p++) {
    imgs.push(document.getElementById("%(uid)s-img-" + p));
  }
  function show(i) {
    for (var p = 0; p < imgs.length; p++) {
      imgs[p].src = "data:image/png;base64," + data.frames[i][p];
    }
    readout.textContent = data.label + " = " + data.labels[i];
    root.setAttribute("data-reprolib-index", String(i));
  }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  show(parseInt(slider.value, 10));
})();"""


class _StaticFrames:
    """What the static demos share: precomputed PNG frames (each a list of panels), a unique element id for
    the page, and the frames as base64 for data URIs."""

    frames_png: list

    @staticmethod
    def _new_uid() -> str:
        return "reprolib-demo-" + uuid.uuid4().hex[:12]

    def __len__(self) -> int:
        return len(self.frames_png)

    def _frames_b64(self) -> list[list[str]]:
        return [[base64.b64encode(png).decode("ascii") for png in frame] for frame in self.frames_png]


class StaticSlider(_StaticFrames):
    """Precomputed frames with a range slider; renders as self-contained HTML (``_repr_html_``).

    Attributes:
        frames_png: list (one per value) of lists (one per panel) of PNG bytes.
        values, labels: the slider values and their formatted read-outs.
        uid: the element-id prefix, unique per instance.
    """

    def __init__(
        self,
        frames_png: list[list[bytes]],
        sizes: list[tuple[int, int]],
        values: Sequence,
        labels: list[str],
        title: str = "",
        label: str = "T",
        initial: int = 0,
        width: int | None = None,
        panel_titles: Sequence[str] | None = None,
    ):
        self.frames_png = frames_png
        self.sizes = sizes  # (H, W) of each panel, from the first frame
        self.values = list(values)
        self.labels = labels
        self.title = title
        self.label = label
        self.initial = initial
        self.width = width
        self.panel_titles = list(panel_titles) if panel_titles is not None else None
        self.uid = self._new_uid()

    @property
    def n_panels(self) -> int:
        return len(self.frames_png[0])

    def _repr_html_(self) -> str:
        uid, esc = self.uid, html.escape
        b64 = self._frames_b64()
        data = {"label": self.label, "labels": self.labels, "frames": b64}
        # "<" escaped so that no string can close the script element early.
        data_json = json.dumps(data).replace("<", "\\u003c")

        panels = []
        for p in range(self.n_panels):
            h, w = self.sizes[p]
            shown_w = self.width if self.width is not None else w
            shown_h = round(h * shown_w / w)
            style = "display:block;" + ("image-rendering:pixelated;" if shown_w > w else "")
            caption = ""
            if self.panel_titles is not None:
                caption = f'<figcaption style="text-align:center">{esc(self.panel_titles[p])}</figcaption>'
            panels.append(
                f'<figure style="margin:0 8px 0 0">'
                f'<img id="{uid}-img-{p}" data-reprolib-panel="{p}" width="{shown_w}" height="{shown_h}" '
                f'style="{style}" alt="{esc(self.panel_titles[p] if self.panel_titles else self.title)}" '
                f'src="data:image/png;base64,{b64[self.initial][p]}">{caption}</figure>'
            )
        title = f'<div style="font-weight:bold">{esc(self.title)}</div>' if self.title else ""
        return (
            f'<div id="{uid}" class="reprolib-demo" data-reprolib-demo="slider" '
            f'data-reprolib-frames="{len(self)}" data-reprolib-panels="{self.n_panels}" '
            f'data-reprolib-index="{self.initial}">'
            f"{title}"
            f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{"".join(panels)}</div>'
            f'<div style="display:flex;align-items:center;gap:8px;margin-top:4px">'
            f'<input type="range" id="{uid}-slider" data-reprolib-role="slider" min="0" max="{len(self) - 1}" '
            f'step="1" value="{self.initial}" aria-label="{esc(self.label)}" style="width:240px">'
            f'<span id="{uid}-value" data-reprolib-role="value">'
            f"{esc(self.label)} = {esc(self.labels[self.initial])}</span></div>"
            f'<script type="application/json" id="{uid}-data">{data_json}</script>'
            f"<script>{_SCRIPT % {'uid': uid}}</script>"
            f"</div>"
        )

    def save_html(self, path: str | Path) -> Path:
        """Write a standalone HTML page holding this demo; returns the path."""
        path = Path(path)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title or 'reprolib demo')}</title></head>\n"
            f"<body>\n{self._repr_html_()}\n</body></html>\n"
        )
        path.write_text(page, encoding="utf-8")
        return path


def _display_options(n_frames: int, n_panels: int, panel_titles, initial, width, unit: str) -> int:
    """Check the display options shared by the static widgets; return the index shown first (default: the
    middle one). ``unit`` names a frame in the messages ("frame", "step")."""
    if panel_titles is not None and len(panel_titles) != n_panels:
        raise ValueError(f"got {len(panel_titles)} panel_titles for {n_panels} panels")
    if initial is None:
        initial = n_frames // 2
    if not 0 <= int(initial) < n_frames:
        raise ValueError(f"initial must be a {unit} index in [0, {n_frames - 1}], got {initial}")
    if width is not None and int(width) <= 0:
        raise ValueError(f"width must be a positive number of pixels, got {width}")
    return int(initial)


def static_slider(
    frames: Sequence,
    values: Sequence,
    title: str = "",
    label: str = "T",
    value_format: str = "{:.2f}",
    initial: int | None = None,
    width: int | None = None,
    panel_titles: Sequence[str] | None = None,
) -> StaticSlider:
    """A slider over precomputed frames that works with no kernel (the static fallback of a demo).

    Args:
        frames: one entry per slider value; each an image or a list of images (panels side by side).
            Every frame must have the same number of panels, and panel p the same size in every frame.
        values: the slider values (same length as ``frames``), shown through ``value_format``.
        title: shown above the images.
        label: the value's name in the read-out, e.g. ``"T"`` gives ``T = 0.38``.
        initial: index of the frame shown first (default: the middle one).
        width: displayed width of each panel in CSS pixels (default: the image's own width); small
            images are scaled up without smoothing.
        panel_titles: one caption per panel.
    """
    frames = list(frames)
    values = list(values)
    if not frames:
        raise ValueError("frames is empty: give at least one frame")
    if len(frames) != len(values):
        raise ValueError(f"got {len(frames)} frames but {len(values)} values; give one value per frame")
    labels = _format_values(values, value_format)

    frames_u8 = [[to_uint8(img) for img in _as_panels(f)] for f in frames]
    n_panels = len(frames_u8[0])
    sizes = [img.shape[:2] for img in frames_u8[0]]
    for i, frame in enumerate(frames_u8):
        if len(frame) != n_panels:
            raise ValueError(f"frame {i} has {len(frame)} panels but frame 0 has {n_panels}")
        for p, img in enumerate(frame):
            if img.shape[:2] != sizes[p]:
                raise ValueError(f"frame {i}, panel {p} is {img.shape[:2]} but frame 0's panel {p} is {sizes[p]}")
    initial = _display_options(len(frames), n_panels, panel_titles, initial, width, "frame")

    frames_png = []
    for frame in frames_u8:
        row = []
        for img in frame:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            row.append(buf.getvalue())
        frames_png.append(row)
    return StaticSlider(
        frames_png, [tuple(s) for s in sizes], values, labels, title=title, label=label,
        initial=int(initial), width=None if width is None else int(width), panel_titles=panel_titles,
    )


# ----------------------------------------------------------------------------- live (needs a kernel)


class LiveSlider(widgets.VBox):
    """``VBox([description, HBox(panels), slider, output])``; build it with :func:`live_slider`.

    Attributes: ``slider`` (SelectionSlider), ``images`` (one Image per panel), ``output`` (Output, where
    exceptions raised by ``render`` show under a kernel), ``render``.
    """

    def __init__(self, render, values, label="T", description="", value_format="{:.2f}", initial=None,
                 width=None, panel_titles=None, continuous_update=False):
        if not callable(render):
            raise TypeError(
                f"render must be callable (value -> image or list of images), got {type(render).__name__}"
            )
        values = list(values)
        if not values:
            raise ValueError("values is empty: give at least one slider value")
        if len(set(values)) != len(values):
            raise ValueError(f"values must be distinct, got {values}")
        labels = _format_values(values, value_format)
        if initial is None:
            initial = len(values) // 2
        if not 0 <= int(initial) < len(values):
            raise ValueError(f"initial must be an index in [0, {len(values) - 1}], got {initial}")

        self.render = render
        self.slider = widgets.SelectionSlider(
            options=list(zip(labels, values)), value=values[int(initial)], description=label,
            continuous_update=continuous_update,
        )
        self.output = widgets.Output()
        self._shown_error = False
        panels = _as_panels(render(values[int(initial)]))
        if panel_titles is not None and len(panel_titles) != len(panels):
            raise ValueError(f"got {len(panel_titles)} panel_titles for {len(panels)} panels")
        layout = {} if width is None else {"width": f"{int(width)}px"}
        self.images = [widgets.Image(value=to_png_bytes(img), format="png", layout=layout) for img in panels]
        columns = []
        for p, image in enumerate(self.images):
            caption = [widgets.HTML(html.escape(panel_titles[p]))] if panel_titles is not None else []
            columns.append(widgets.VBox(caption + [image]))
        header = [widgets.HTML(html.escape(description))] if description else []
        super().__init__(header + [widgets.HBox(columns), self.slider, self.output])
        self.slider.observe(self._on_change, names="value")

    def _on_change(self, change) -> None:
        # Under a kernel, an exception inside ``with self.output`` is shown there instead of being lost
        # in the log; headless (tests) it propagates to whoever set the value.
        if self._shown_error:
            self.output.clear_output()
            self._shown_error = False
        with self.output:
            try:
                panels = _as_panels(self.render(change["new"]))
                if len(panels) != len(self.images):
                    raise ValueError(f"render returned {len(panels)} panels, expected {len(self.images)}")
                for image, img in zip(self.images, panels):
                    image.value = to_png_bytes(img)
            except Exception:
                self._shown_error = True
                raise


def live_slider(
    render: Callable[[float], object],
    values: Sequence,
    label: str = "T",
    description: str = "",
    value_format: str = "{:.2f}",
    initial: int | None = None,
    width: int | None = None,
    panel_titles: Sequence[str] | None = None,
    continuous_update: bool = False,
) -> LiveSlider:
    """A live demo: a slider over ``values``; on each change ``render(value)`` is called and shown.

    Args:
        render: value -> an image or a list of images (panels); see :func:`to_uint8` for image types.
        values: the slider's values (a SelectionSlider: ``render`` gets exactly these values).
        label: the slider's name (e.g. ``"T"``).
        description: a line of text shown above the demo (HTML-escaped).
        value_format: how the slider shows a value.
        initial: index of the initial value (default: the middle one).
        width: displayed width of each panel in pixels.
        panel_titles: one caption per panel.
        continuous_update: re-render while dragging (default: on release, kinder to slow renders).

    Returns:
        a :class:`LiveSlider` (an ``ipywidgets.VBox``). Constructing it needs no frontend.
    """
    return LiveSlider(
        render, values, label=label, description=description, value_format=value_format, initial=initial,
        width=width, panel_titles=panel_titles, continuous_update=continuous_update,
    )


# ----------------------------------------------------------------------------- several controls (explorer)

# Controls of an explorer: ``(name, label, kind, options)`` with kind "select" (a <select> / Dropdown) or
# "slider" (a range input / SelectionSlider) and options a list of (shown label, value) pairs.
Control = tuple

_EXPLORER_SCRIPT = """(function () {
  var root = document.getElementById("%(uid)s");
  if (!root) { return; }
  var data = JSON.parse(document.getElementById("%(uid)s-data").textContent);
  var controls = [], imgs = [];
  for (var c = 0; c < data.sizes.length; c++) { controls.push(document.getElementById("%(uid)s-ctl-" + c)); }
  for (var p = 0; p < data.frames[0].length; p++) { imgs.push(document.getElementById("%(uid)s-img-" + p)); }
  var text = document.getElementById("%(uid)s-text");
  var readouts = [];
  for (var c = 0; c < data.sizes.length; c++) { readouts.push(document.getElementById("%(uid)s-val-" + c)); }
  function show() {
    var i = 0;
    for (var c = 0; c < controls.length; c++) {
      var k = parseInt(controls[c].value, 10);
      i = i * data.sizes[c] + k;
      if (readouts[c]) { readouts[c].textContent = data.labels[c][k]; }
    }
    for (var p = 0; p < imgs.length; p++) { imgs[p].src = "data:image/png;base64," + data.images[data.frames[i][p]]; }
    text.textContent = data.texts[i];
    root.setAttribute("data-reprolib-index", String(i));
  }
  for (var c = 0; c < controls.length; c++) {
    controls[c].addEventListener(controls[c].tagName === "SELECT" ? "change" : "input", show);
  }
  show();
})();"""


def _check_controls(controls: Sequence[Control]) -> list[tuple[str, str, str, list[tuple[str, object]]]]:
    out = []
    if not controls:
        raise ValueError("controls is empty: give at least one (name, label, kind, options) control")
    for c in controls:
        if not (isinstance(c, (tuple, list)) and len(c) == 4):
            raise ValueError(f"each control must be (name, label, kind, options), got {c!r}")
        name, label, kind, options = c
        if kind not in ("select", "slider"):
            raise ValueError(f"control {name!r}: kind must be 'select' or 'slider', got {kind!r}")
        options = [(str(o[0]), o[1]) for o in options]
        if not options:
            raise ValueError(f"control {name!r} has no options")
        out.append((str(name), str(label), kind, options))
    return out


class StaticExplorer(_StaticFrames):
    """Precomputed frames over the product of several controls, as self-contained HTML.

    Frame ``i`` belongs to the control indices ``(k_0, k_1, ...)`` in row-major order (the last control
    varies fastest). Each frame is a list of panels (PNG bytes) and a line of text; the page stores each
    distinct picture once (``images``) and each frame as indices into it. The root element has
    ``class="reprolib-demo"`` and ``data-reprolib-demo="explorer"``; its controls carry
    ``data-reprolib-role="select"`` or ``"slider"``; the JavaScript swaps the images' ``src`` and the text
    whenever a control changes (no kernel, no external request).
    """

    def __init__(self, controls, frames_png: list[list[bytes]], texts: list[str], sizes: list[tuple[int, int]],
                 title: str = "", width: int | None = None, panel_titles: Sequence[str] | None = None):
        self.controls = _check_controls(controls)
        n = int(np.prod([len(c[3]) for c in self.controls]))
        if len(frames_png) != n or len(texts) != n:
            raise ValueError(f"{len(frames_png)} frames and {len(texts)} texts for {n} control combinations")
        self.frames_png, self.texts, self.sizes = frames_png, list(texts), sizes
        self.title, self.width = title, width
        self.panel_titles = list(panel_titles) if panel_titles is not None else None
        self.uid = self._new_uid()

    def _repr_html_(self) -> str:
        uid, esc = self.uid, html.escape
        b64 = self._frames_b64()
        # each distinct picture once: frames hold indices into images (a panel that stays put while a
        # control moves, e.g. the input, is stored a single time)
        index: dict[str, int] = {}
        frames = [[index.setdefault(img, len(index)) for img in frame] for frame in b64]
        data = {"sizes": [len(c[3]) for c in self.controls], "labels": [[o[0] for o in c[3]] for c in self.controls],
                "images": list(index), "frames": frames, "texts": self.texts}
        data_json = json.dumps(data).replace("<", "\\u003c")
        panels = []
        for p, (h, w) in enumerate(self.sizes):
            shown_w = self.width if self.width is not None else w
            shown_h = round(h * shown_w / w)
            style = "display:block;" + ("image-rendering:pixelated;" if shown_w > w else "")
            title = self.panel_titles[p] if self.panel_titles else self.title
            caption = f'<figcaption style="text-align:center">{esc(title)}</figcaption>' if self.panel_titles else ""
            panels.append(f'<figure style="margin:0 8px 0 0"><img id="{uid}-img-{p}" data-reprolib-panel="{p}" '
                          f'width="{shown_w}" height="{shown_h}" style="{style}" alt="{esc(title)}" '
                          f'src="data:image/png;base64,{b64[0][p]}">{caption}</figure>')
        ctls = []
        for c, (name, label, kind, options) in enumerate(self.controls):
            if kind == "select":
                opts = "".join(f'<option value="{k}">{esc(o[0])}</option>' for k, o in enumerate(options))
                widget = (f'<select id="{uid}-ctl-{c}" data-reprolib-role="select" data-reprolib-control="{esc(name)}" '
                          f'aria-label="{esc(label)}">{opts}</select>')
            else:
                widget = (f'<input type="range" id="{uid}-ctl-{c}" data-reprolib-role="slider" '
                          f'data-reprolib-control="{esc(name)}" min="0" max="{len(options) - 1}" step="1" value="0" '
                          f'aria-label="{esc(label)}" style="width:160px">'
                          f'<span id="{uid}-val-{c}">{esc(options[0][0])}</span>')
            ctls.append(f'<label style="display:flex;align-items:center;gap:4px">{esc(label)} {widget}</label>')
        heading = f'<div style="font-weight:bold">{esc(self.title)}</div>' if self.title else ""
        return (f'<div id="{uid}" class="reprolib-demo" data-reprolib-demo="explorer" data-reprolib-frames="{len(self)}" '
                f'data-reprolib-index="0">{heading}'
                f'<div style="display:flex;flex-wrap:wrap;gap:12px;margin-bottom:4px">{"".join(ctls)}</div>'
                f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{"".join(panels)}</div>'
                f'<div id="{uid}-text" data-reprolib-role="value" style="font-family:monospace">{esc(self.texts[0])}</div>'
                f'<script type="application/json" id="{uid}-data">{data_json}</script>'
                f"<script>{_EXPLORER_SCRIPT % {'uid': uid}}</script></div>")

    def save_html(self, path: str | Path) -> Path:
        """Write a standalone HTML page holding this demo; returns the path."""
        path = Path(path)
        path.write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
                        f"{html.escape(self.title or 'reprolib demo')}</title></head>\n<body>\n"
                        f"{self._repr_html_()}\n</body></html>\n", encoding="utf-8")
        return path


def static_explorer(render: Callable[..., tuple], controls: Sequence[Control], title: str = "",
                    width: int | None = None, panel_titles: Sequence[str] | None = None) -> StaticExplorer:
    """Precompute ``render(**values)`` for every combination of the controls' options.

    ``render`` takes one keyword argument per control (its ``name``) and returns ``(panels, text)``: a list
    of images (see :func:`to_uint8`) and a line of text (e.g. the metric values).
    """
    if not callable(render):
        raise TypeError(f"render must be callable, got {type(render).__name__}")
    checked = _check_controls(controls)
    frames, texts, sizes = [], [], None
    for combo in np.ndindex(*[len(c[3]) for c in checked]):
        panels, text = render(**{c[0]: c[3][k][1] for c, k in zip(checked, combo)})
        arrays = [to_uint8(p) for p in _as_panels(panels)]
        if sizes is None:
            sizes = [a.shape[:2] for a in arrays]
        elif len(arrays) != len(sizes):
            raise ValueError(f"render returned {len(arrays)} panels, expected {len(sizes)}")
        frames.append([to_png_bytes(a) for a in arrays])
        texts.append(str(text))
    return StaticExplorer(checked, frames, texts, sizes, title=title, width=width, panel_titles=panel_titles)


class LiveExplorer(widgets.VBox):
    """Core-ipywidgets explorer: a Dropdown or SelectionSlider per control, image panels and a text line.

    Attributes: ``controls`` (name -> widget), ``images`` (one Image per panel), ``text`` (HTML), ``output``.
    """

    def __init__(self, render: Callable[..., tuple], controls: Sequence[Control], description: str = "",
                 width: int | None = None, panel_titles: Sequence[str] | None = None):
        if not callable(render):
            raise TypeError(f"render must be callable, got {type(render).__name__}")
        checked = _check_controls(controls)
        self.render = render
        self.controls = {}
        for name, label, kind, options in checked:
            cls = widgets.Dropdown if kind == "select" else widgets.SelectionSlider
            self.controls[name] = cls(options=options, value=options[0][1], description=label,
                                      continuous_update=False) if kind == "slider" else cls(
                options=options, value=options[0][1], description=label)
        panels, text = render(**self.values())
        panels = _as_panels(panels)
        if panel_titles is not None and len(panel_titles) != len(panels):
            raise ValueError(f"got {len(panel_titles)} panel_titles for {len(panels)} panels")
        layout = {} if width is None else {"width": f"{int(width)}px"}
        self.images = [widgets.Image(value=to_png_bytes(p), format="png", layout=layout) for p in panels]
        self.text = widgets.HTML(f"<code>{html.escape(str(text))}</code>")
        self.output = widgets.Output()
        columns = [widgets.VBox(([widgets.HTML(html.escape(panel_titles[p]))] if panel_titles else []) + [im])
                   for p, im in enumerate(self.images)]
        header = [widgets.HTML(html.escape(description))] if description else []
        super().__init__(header + [widgets.HBox(list(self.controls.values())), widgets.HBox(columns), self.text,
                                   self.output])
        for w in self.controls.values():
            w.observe(self._on_change, names="value")

    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def _on_change(self, change) -> None:
        with self.output:
            panels, text = self.render(**self.values())
            panels = _as_panels(panels)
            if len(panels) != len(self.images):
                raise ValueError(f"render returned {len(panels)} panels, expected {len(self.images)}")
            for image, p in zip(self.images, panels):
                image.value = to_png_bytes(p)
            self.text.value = f"<code>{html.escape(str(text))}</code>"


def live_explorer(render: Callable[..., tuple], controls: Sequence[Control], description: str = "",
                  width: int | None = None, panel_titles: Sequence[str] | None = None) -> LiveExplorer:
    """The live twin of :func:`static_explorer` (same ``render`` and ``controls``); needs a kernel to react."""
    return LiveExplorer(render, controls, description=description, width=width, panel_titles=panel_titles)
