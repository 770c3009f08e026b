"""Chapter 2's demo: a hint editor (click a point, pick a colour, see the colorization) for a live kernel,
and its static fallback of precomputed steps for the HTML."""

from __future__ import annotations

import html
import json
from typing import Callable, Sequence

import ipywidgets as widgets
import torch

from reprolib.book.widgets import _as_panels, _display_options, _StaticFrames, to_png_bytes, to_uint8
from reprolib.chapters.user_guided.experiment import ChapterRun
from reprolib.chapters.user_guided.hints import max_error_points
from reprolib.chapters.user_guided.palette import distribution_at, suggest_colors
from reprolib.color import l_ab_to_rgb


def _hex(rgb) -> str:
    """'#rrggbb' of an RGB triple in [0, 1]."""
    r, g, b = (int(round(min(max(float(v), 0.0), 1.0) * 255)) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _lab_to_hex(L: float, ab) -> str:
    import torch

    from reprolib.color import lab_to_rgb

    lab = torch.tensor([float(L), float(ab[0]), float(ab[1])], dtype=torch.float32).reshape(1, 3, 1, 1)
    return _hex(lab_to_rgb(lab)[0, :, 0, 0].tolist())


def _hex_to_ab(value: str) -> tuple[float, float]:
    import torch

    from reprolib.color import rgb_to_lab

    v = str(value).strip().lstrip("#")
    if len(v) == 3:
        v = "".join(c * 2 for c in v)
    if len(v) != 6 or any(c not in "0123456789abcdefABCDEF" for c in v):
        raise ValueError(f"expected a colour '#rrggbb', got {value!r}")
    rgb = torch.tensor([int(v[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]).reshape(1, 3, 1, 1)
    lab = rgb_to_lab(rgb)[0, :, 0, 0]
    return float(lab[1]), float(lab[2])


class HintEditor(widgets.VBox):
    """The live demo of the user-guided chapter: place, move, recolour and remove colour hints on a grey
    image and see the colorization update at once. Core ipywidgets only (works in JupyterLab and Colab).

    ipywidgets' Image emits no clicks, so the grey image is shown as a ``grid`` x ``grid`` board of
    clickable tiles (Buttons tinted with the tile's grey level, or with a hint's colour where one lies).
    Clicking a tile in mode "add" places a ``patch`` x ``patch`` hint at the tile's centre, coloured by the
    first palette suggestion there; in mode "move" it moves the selected hint. A ColorPicker and a row of
    palette buttons (the suggestions for the selected hint's pixel) set the selected hint's colour; a Select
    lists the hints; "remove" deletes the selected one.

    Args:
        L: lightness, (H, W), (1, H, W) or (1, 1, H, W) tensor in [0, 100].
        colorize: ``colorize(L (1,1,H,W), ab_hint (1,2,H,W), mask (1,1,H,W)) -> (ab (1,2,H,W), logits or None)``.
        palette: ``palette(logits, y, x) -> list of (a, b)`` suggestions, most probable first (or None: no row).
        grid: tiles per side (the image side must be a multiple of it). patch: hint side in pixels.
        width: displayed width of the colorization in pixels.
    """

    MODES = ("add", "move")

    def __init__(self, L, colorize: Callable, palette: Callable | None = None, grid: int = 16, patch: int = 7,
                 width: int = 256, tile_px: int = 16):
        import torch

        if not callable(colorize):
            raise TypeError(f"colorize must be callable, got {type(colorize).__name__}")
        if palette is not None and not callable(palette):
            raise TypeError(f"palette must be callable or None, got {type(palette).__name__}")
        if not isinstance(L, torch.Tensor) or not L.is_floating_point():
            raise TypeError("L must be a floating torch tensor (H, W), (1, H, W) or (1, 1, H, W) in [0, 100]")
        L = L.detach().cpu().float()
        while L.dim() < 4:
            L = L[None]
        if L.dim() != 4 or L.shape[:2] != (1, 1):
            raise ValueError(f"L must be (H, W), (1, H, W) or (1, 1, H, W), got {tuple(L.shape)}")
        H, W = L.shape[-2:]
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1 or H % grid or W % grid:
            raise ValueError(f"grid must be a positive integer dividing the image size {H} x {W}, got {grid!r}")
        if isinstance(patch, bool) or not isinstance(patch, int) or not 1 <= patch <= min(H, W):
            raise ValueError(f"patch must be an integer in [1, {min(H, W)}], got {patch!r}")
        self.L, self.H, self.W, self.grid, self.patch = L, H, W, grid, patch
        self.colorize, self.palette = colorize, palette
        self.hints: list[dict] = []  # each {"y", "x", "ab": (a, b)}
        self.selected: int | None = None
        self._logits = None
        self._busy = False

        layout = widgets.Layout(width=f"{tile_px}px", height=f"{tile_px}px", padding="0", margin="0",
                                border="0")
        self.tiles = []
        for i in range(grid):
            for j in range(grid):
                b = widgets.Button(description="", layout=layout, tooltip=f"tile ({i}, {j})")
                b.on_click(lambda _b, i=i, j=j: self.click_tile(i, j))
                self.tiles.append(b)
        self.board = widgets.GridBox(self.tiles, layout=widgets.Layout(
            grid_template_columns=f"repeat({grid}, {tile_px}px)", grid_gap="0px"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{int(width)}px"))
        self.mode = widgets.ToggleButtons(options=list(self.MODES), value="add", description="click to")
        self.picker = widgets.ColorPicker(value="#808080", description="colour", concise=False)
        self.picker.observe(self._on_pick, names="value")
        self.palette_row = widgets.HBox([])
        self.select = widgets.Select(options=[], rows=6, description="hints")
        self.select.observe(self._on_select, names="value")
        self.remove_button = widgets.Button(description="remove", button_style="warning")
        self.remove_button.on_click(lambda _b: self.remove_selected())
        self.status = widgets.HTML("")
        self.output = widgets.Output()
        controls = widgets.VBox([self.mode, self.picker, widgets.HTML("palette at the selected hint:"),
                                 self.palette_row, self.select, self.remove_button, self.status])
        super().__init__([widgets.HBox([self.board, self.image, controls]), self.output])
        self.update()

    # -------------------------------------------------------------- state -> tensors
    def hint_tensors(self):
        """The current hints as ``(ab_hint (1,2,H,W), mask (1,1,H,W))``; a later hint overwrites an earlier one."""
        import torch

        hint, mask = torch.zeros(1, 2, self.H, self.W), torch.zeros(1, 1, self.H, self.W)
        r = self.patch // 2
        for h in self.hints:
            t, l = max(0, h["y"] - r), max(0, h["x"] - r)
            b, rr = h["y"] - r + self.patch, h["x"] - r + self.patch
            hint[0, :, t:b, l:rr] = torch.tensor(h["ab"], dtype=torch.float32)[:, None, None]
            mask[0, :, t:b, l:rr] = 1.0
        return hint, mask

    def _tile_centre(self, i: int, j: int) -> tuple[int, int]:
        th, tw = self.H // self.grid, self.W // self.grid
        return i * th + th // 2, j * tw + tw // 2

    def suggestions(self, y: int, x: int) -> list:
        if self.palette is None or self._logits is None:
            return []
        return [tuple(float(v) for v in ab) for ab in self.palette(self._logits, y, x)]

    # -------------------------------------------------------------- events
    def click_tile(self, i: int, j: int) -> None:
        """What a click on tile (row i, column j) does: add a hint there, or move the selected hint there."""
        if not (0 <= i < self.grid and 0 <= j < self.grid):
            raise ValueError(f"tile ({i}, {j}) is outside the {self.grid} x {self.grid} board")
        y, x = self._tile_centre(i, j)
        if self.mode.value == "move" and self.selected is not None:
            self.hints[self.selected].update(y=y, x=x)
        else:
            sugg = self.suggestions(y, x)
            ab = sugg[0] if sugg else _hex_to_ab(self.picker.value)
            self.hints.append({"y": y, "x": x, "ab": ab})
            self.selected = len(self.hints) - 1
        self.update()

    def set_colour(self, ab) -> None:
        """Give the selected hint the colour ``ab`` = (a, b)."""
        if self.selected is None:
            return
        self.hints[self.selected]["ab"] = (float(ab[0]), float(ab[1]))
        self.update()

    def remove_selected(self) -> None:
        if self.selected is None:
            return
        del self.hints[self.selected]
        self.selected = (len(self.hints) - 1) if self.hints else None
        self.update()

    def _on_pick(self, change) -> None:
        if not self._busy:
            self.set_colour(_hex_to_ab(change["new"]))

    def _on_select(self, change) -> None:
        if not self._busy and change["new"] is not None:
            self.selected = int(change["new"])
            self.update()

    # -------------------------------------------------------------- redraw
    def update(self) -> None:
        """Re-run the colorization and redraw everything (called after every change)."""
        import torch

        from reprolib.color import l_ab_to_rgb, lab_to_rgb

        with self.output:
            hint, mask = self.hint_tensors()
            ab, self._logits = self.colorize(self.L, hint, mask)
            self.image.value = to_png_bytes(l_ab_to_rgb(self.L, ab.detach().cpu().float())[0])
            self._busy = True
            try:
                # One Lab -> RGB conversion for the whole board: each tile's mean L, and the hint's ab at the
                # tile's centre where a hint lies (else grey).
                th, tw = self.H // self.grid, self.W // self.grid
                tile_L = torch.nn.functional.avg_pool2d(self.L, (th, tw))[0, 0]
                cy = torch.arange(self.grid) * th + th // 2
                cx = torch.arange(self.grid) * tw + tw // 2
                tile_ab = (hint * mask)[0][:, cy][:, :, cx]
                rgb = lab_to_rgb(torch.cat([tile_L[None], tile_ab], dim=0)[None])[0]
                for k, tile in enumerate(self.tiles):
                    i, j = divmod(k, self.grid)
                    colour = _hex(rgb[:, i, j].tolist())
                    if tile.style.button_color != colour:
                        tile.style.button_color = colour
                self.select.options = [(f"{n + 1}: (y {h['y']}, x {h['x']}) a {h['ab'][0]:.0f} b {h['ab'][1]:.0f}", n)
                                       for n, h in enumerate(self.hints)]
                self.select.value = self.selected
                buttons = []
                if self.selected is not None:
                    h = self.hints[self.selected]
                    Lp = float(self.L[0, 0, h["y"], h["x"]])
                    self.picker.value = _lab_to_hex(Lp, h["ab"])
                    for ab_s in self.suggestions(h["y"], h["x"]):
                        btn = widgets.Button(description="", layout=widgets.Layout(width="26px", height="26px"),
                                             tooltip=f"a {ab_s[0]:.0f}, b {ab_s[1]:.0f}")
                        btn.style.button_color = _lab_to_hex(Lp, ab_s)
                        btn.on_click(lambda _b, ab_s=ab_s: self.set_colour(ab_s))
                        buttons.append(btn)
                self.palette_row.children = buttons
                self.status.value = html.escape(f"{len(self.hints)} hint(s)")
            finally:
                self._busy = False


def hint_editor(L, colorize: Callable, palette: Callable | None = None, grid: int = 16, patch: int = 7,
                width: int = 256) -> HintEditor:
    """Build a :class:`HintEditor` (see there). Constructing it needs no frontend."""
    return HintEditor(L, colorize, palette=palette, grid=grid, patch=patch, width=width)


_HINT_SCRIPT = """(function () {
  var root = document.getElementById("%(uid)s");
  if (!root) { return; }
  var data = JSON.parse(document.getElementById("%(uid)s-data").textContent);
  var slider = document.getElementById("%(uid)s-slider");
  var readout = document.getElementById("%(uid)s-value");
  var pal = document.getElementById("%(uid)s-palette");
  var imgs = [];
  for (var p = 0; p < data.frames[0].length; p++) { imgs.push(document.getElementById("%(uid)s-img-" + p)); }
  function show(i) {
    for (var p = 0; p < imgs.length; p++) { imgs[p].src = "data:image/png;base64," + data.frames[i][p]; }
    readout.textContent = data.labels[i];
    while (pal.firstChild) { pal.removeChild(pal.firstChild); }
    var sw = data.palettes[i];
    for (var k = 0; k < sw.length; k++) {
      var s = document.createElement("span");
      s.setAttribute("data-reprolib-swatch", String(k));
      s.title = sw[k][1];
      s.style.cssText = "display:inline-block;width:22px;height:22px;margin-right:3px;border:1px solid #444;background:" + sw[k][0];
      pal.appendChild(s);
    }
    slider.value = String(i);
    root.setAttribute("data-reprolib-index", String(i));
  }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  var n = data.frames.length;  // previous/next wrap around at the ends
  document.getElementById("%(uid)s-prev").addEventListener("click", function () {
    show((parseInt(slider.value, 10) - 1 + n) %% n); });
  document.getElementById("%(uid)s-next").addEventListener("click", function () {
    show((parseInt(slider.value, 10) + 1) %% n); });
  show(parseInt(slider.value, 10));
})();"""


class StaticHintSteps(_StaticFrames):
    """A precomputed sequence of hint placements to step through with no kernel (slider and prev/next
    buttons, which wrap around at the ends): each frame shows its panels (e.g. input with hints, colorization) and a palette of swatches.
    Follows the book's demo protocol (``data-reprolib-demo="hints"``, roles slider/button)."""

    def __init__(self, frames_png: list[list[bytes]], sizes: list[tuple[int, int]], labels: list[str],
                 palettes: list[list[tuple[str, str]]], title: str = "", width: int | None = None,
                 panel_titles: Sequence[str] | None = None, initial: int = 0):
        self.frames_png, self.sizes, self.labels, self.palettes = frames_png, sizes, labels, palettes
        self.title, self.width, self.initial = title, width, initial
        self.panel_titles = list(panel_titles) if panel_titles is not None else None
        self.uid = self._new_uid()

    def _repr_html_(self) -> str:
        uid, esc = self.uid, html.escape
        b64 = self._frames_b64()
        data_json = json.dumps({"labels": self.labels, "frames": b64, "palettes": self.palettes}).replace("<", "\\u003c")
        panels = []
        for p, (h, w) in enumerate(self.sizes):
            sw = self.width or w
            sh = round(h * sw / w)
            cap = (f'<figcaption style="text-align:center">{esc(self.panel_titles[p])}</figcaption>'
                   if self.panel_titles else "")
            panels.append(f'<figure style="margin:0 8px 0 0"><img id="{uid}-img-{p}" data-reprolib-panel="{p}" '
                          f'width="{sw}" height="{sh}" style="display:block;image-rendering:pixelated" '
                          f'alt="{esc(self.panel_titles[p] if self.panel_titles else self.title)}" '
                          f'src="data:image/png;base64,{b64[self.initial][p]}">{cap}</figure>')
        swatches = "".join(
            f'<span data-reprolib-swatch="{k}" title="{esc(t)}" style="display:inline-block;width:22px;height:22px;'
            f'margin-right:3px;border:1px solid #444;background:{esc(c)}"></span>'
            for k, (c, t) in enumerate(self.palettes[self.initial]))
        title = f'<div style="font-weight:bold">{esc(self.title)}</div>' if self.title else ""
        return (
            f'<div id="{uid}" class="reprolib-demo" data-reprolib-demo="hints" data-reprolib-frames="{len(self)}" '
            f'data-reprolib-panels="{len(self.sizes)}" data-reprolib-index="{self.initial}">{title}'
            f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{"".join(panels)}</div>'
            f'<div style="margin-top:4px">palette at the newest hint: <span id="{uid}-palette">{swatches}</span></div>'
            f'<div style="display:flex;align-items:center;gap:8px;margin-top:4px">'
            f'<button type="button" id="{uid}-prev" data-reprolib-role="button">previous</button>'
            f'<input type="range" id="{uid}-slider" data-reprolib-role="slider" min="0" max="{len(self) - 1}" '
            f'step="1" value="{self.initial}" aria-label="step" style="width:220px">'
            f'<button type="button" id="{uid}-next" data-reprolib-role="button">next</button>'
            f'<span id="{uid}-value" data-reprolib-role="value">{esc(self.labels[self.initial])}</span></div>'
            f'<script type="application/json" id="{uid}-data">{data_json}</script>'
            f"<script>{_HINT_SCRIPT % {'uid': uid}}</script></div>"
        )


def static_hint_steps(frames: Sequence, labels: Sequence[str], palettes: Sequence[Sequence[tuple[str, str]]],
                      title: str = "", width: int | None = None, panel_titles: Sequence[str] | None = None,
                      initial: int | None = None) -> StaticHintSteps:
    """Build a :class:`StaticHintSteps`.

    Args:
        frames: one entry per step, each an image or a list of images (see :func:`to_uint8`), same sizes throughout.
        labels: one read-out per step (e.g. ``"3 hints"``).
        palettes: per step, a list of ``(css colour, tooltip)`` swatches (may be empty).
        width: displayed width of each panel (small images are scaled up without smoothing).
        initial: the step shown first (default: the middle one, so that both "previous" and "next" respond).
    """
    frames, labels, palettes = list(frames), [str(x) for x in labels], [list(p) for p in palettes]
    if not frames:
        raise ValueError("frames is empty: give at least one step")
    if not (len(frames) == len(labels) == len(palettes)):
        raise ValueError(f"got {len(frames)} frames, {len(labels)} labels and {len(palettes)} palettes; give one of each per step")
    u8 = [[to_uint8(img) for img in _as_panels(f)] for f in frames]
    sizes = [img.shape[:2] for img in u8[0]]
    for i, f in enumerate(u8):
        if [img.shape[:2] for img in f] != sizes:
            raise ValueError(f"step {i} has panels of sizes {[img.shape[:2] for img in f]}, step 0 {sizes}")
    for i, p in enumerate(palettes):
        for sw in p:
            if not (isinstance(sw, (tuple, list)) and len(sw) == 2 and all(isinstance(v, str) for v in sw)):
                raise ValueError(f"palette of step {i}: each swatch must be a (css colour, tooltip) pair of strings, got {sw!r}")
    initial = _display_options(len(frames), len(sizes), panel_titles, initial, width, "step")
    pngs = [[to_png_bytes(img) for img in f] for f in u8]
    return StaticHintSteps(pngs, [tuple(s) for s in sizes], labels, palettes, title=title,
                           width=None if width is None else int(width), panel_titles=panel_titles, initial=int(initial))


def suggestions(logits: torch.Tensor, y: int, x: int, size: tuple[int, int], k: int = 9) -> list[tuple[float, float]]:
    """The palette of section 3.3.2 at pixel (y, x): up to ``k`` suggested (a, b), most probable first."""
    pal = suggest_colors(distribution_at(logits, y, x, size), k=k, seed=0)
    return [(float(a), float(b)) for a, b in pal.ab.tolist()]


def draw_hints(L: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What the user sees on the drawing pad: the grey image with each hint patch in its colour, (N,3,H,W)."""
    return l_ab_to_rgb(L, hint * mask)


@torch.no_grad()
def hint_sequence(run: ChapterRun, L: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> list[dict]:
    """A simulated session on one image (L (1,1,H,W), ab (1,2,H,W)): at every step the user clicks where the
    current colorization is worst (max-error sampling) and gives the true mean colour of the 7x7 patch there.

    Returns ``steps + 1`` dicts (0 hints, 1 hint, ...): ``hint``, ``mask``, ``ab`` (the colorization), ``point``
    (y, x) of the newest hint or None, and ``palette`` (the suggestions shown at that pixel before the click).
    """
    size = tuple(L.shape[-2:])
    hint, mask = torch.zeros_like(ab), torch.zeros_like(L)
    pred, logits = run.colorize(L, hint, mask)
    out = [{"hint": hint, "mask": mask, "ab": pred, "point": None, "palette": []}]
    for _ in range(steps):
        new_hint, new_mask = max_error_points(ab, pred, n=1, revealed_mask=mask)
        if new_mask.sum() == 0:
            break
        ys, xs = new_mask[0, 0].nonzero(as_tuple=True)
        y, x = int(ys.float().mean().round()), int(xs.float().mean().round())
        palette = suggestions(logits, y, x, size)
        hint = torch.where(new_mask > 0, new_hint, hint)
        mask = torch.maximum(mask, new_mask)
        pred, logits = run.colorize(L, hint, mask)
        out.append({"hint": hint, "mask": mask, "ab": pred, "point": (y, x), "palette": palette})
    return out
