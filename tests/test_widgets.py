"""Tests of reprolib.book.widgets: the static HTML slider (no kernel) and the live ipywidgets slider."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.book import widgets


def _frames(n_frames=5, sizes=((8, 10), (6, 7)), seed=0):
    """n_frames frames of len(sizes) uint8 RGB panels with distinct random content."""
    rng = np.random.default_rng(seed)
    return [[rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in sizes] for _ in range(n_frames)]


class _Elements(HTMLParser):
    """Collects every element's tag and attributes, and the text of <script> elements."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))


def _parse(html_text: str) -> _Elements:
    parser = _Elements()
    parser.feed(html_text)
    return parser


def _decode_png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64, validate=True))))


def _data(parsed: _Elements) -> dict:
    (data_text,) = [text for attrs, text in parsed.scripts if attrs.get("type") == "application/json"]
    return json.loads(data_text)


# ----------------------------------------------------------------------------- static slider


def test_static_slider_embeds_every_frame_as_decodable_png():
    frames = _frames()
    values = [0.1, 0.2, 0.38, 0.5, 1.0]
    demo = widgets.static_slider(frames, values, title="temperature", panel_titles=["mean", "mode"])
    parsed = _parse(demo._repr_html_())

    imgs = [a for tag, a in parsed.elements if tag == "img"]
    assert len(imgs) == 2  # one <img> per panel, not per frame

    data = _data(parsed)
    assert len(data["frames"]) == len(values)
    assert data["labels"] == ["0.10", "0.20", "0.38", "0.50", "1.00"]
    for frame_in, frame_b64 in zip(frames, data["frames"]):
        assert len(frame_b64) == 2
        for img_in, b64 in zip(frame_in, frame_b64):
            np.testing.assert_array_equal(_decode_png(b64), img_in)  # lossless, right size


def test_static_slider_initial_frame_slider_range_and_readout():
    frames = _frames()
    demo = widgets.static_slider(frames, [1, 2, 3, 4, 5], label="k", value_format="{:d}", initial=1)
    parsed = _parse(demo._repr_html_())
    (slider,) = [a for tag, a in parsed.elements if tag == "input"]
    assert slider["type"] == "range"
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "4", "1")
    # Without JavaScript the page still shows frame `initial`, panel by panel.
    imgs = [a for tag, a in parsed.elements if tag == "img"]
    for p, img in enumerate(imgs):
        assert img["src"].startswith("data:image/png;base64,")
        np.testing.assert_array_equal(_decode_png(img["src"].split(",", 1)[1]), frames[1][p])
    assert "k = 2" in demo._repr_html_()
    assert demo.initial == 1 and len(demo) == 5


def test_static_slider_default_initial_is_middle_and_width_scales_display():
    demo = widgets.static_slider(_frames(n_frames=4, sizes=((8, 10),)), [0, 1, 2, 3], width=40)
    assert demo.initial == 2
    (img,) = [a for tag, a in _parse(demo._repr_html_()).elements if tag == "img"]
    assert (img["width"], img["height"]) == ("40", "32")  # aspect ratio kept (8x10 -> 32x40)
    assert "pixelated" in img["style"]  # scaled up without smoothing


def test_static_slider_accepts_float_numpy_and_torch_images():
    rgb = np.linspace(0, 1, 4 * 5 * 3).reshape(4, 5, 3)
    chw = torch.from_numpy(rgb).permute(2, 0, 1).float()
    demo = widgets.static_slider([rgb, chw, rgb[:, :, 0]], [0, 1, 2])
    frames = _data(_parse(demo._repr_html_()))["frames"]
    expected = np.round(rgb * 255).astype(np.uint8)
    np.testing.assert_array_equal(_decode_png(frames[0][0]), expected)
    np.testing.assert_array_equal(_decode_png(frames[1][0]), expected)  # (C, H, W) tensor
    np.testing.assert_array_equal(_decode_png(frames[2][0]), expected[:, :, 0])  # greyscale


def test_script_refers_to_existing_ids_and_is_self_contained():
    html_text = widgets.static_slider(_frames(), [0, 1, 2, 3, 4])._repr_html_()
    parsed = _parse(html_text)
    ids = {a["id"] for _, a in parsed.elements if "id" in a}
    (code,) = [text for attrs, text in parsed.scripts if "type" not in attrs]
    referenced = set(re.findall(r'getElementById\("([^"]+)"\)', code))
    referenced |= {m + "0" for m in re.findall(r'getElementById\("([^"]+)" \+ p\)', code)}
    assert referenced and referenced <= ids
    roots = [a for _, a in parsed.elements if a.get("data-reprolib-demo") == "slider"]
    assert len(roots) == 1 and roots[0]["data-reprolib-frames"] == "5"
    # No external resources: no script src, no CDN, no require.js.
    assert not any(tag == "script" and "src" in a for tag, a in parsed.elements)
    assert "http" not in html_text and "require(" not in html_text


def test_two_instances_have_distinct_ids():
    frames = _frames(n_frames=2)
    a = _parse(widgets.static_slider(frames, [0, 1])._repr_html_())
    b = _parse(widgets.static_slider(frames, [0, 1])._repr_html_())
    ids_a = {x["id"] for _, x in a.elements if "id" in x}
    ids_b = {x["id"] for _, x in b.elements if "id" in x}
    assert len(ids_a) == len([1 for _, x in a.elements if "id" in x])  # unique inside one instance
    assert ids_a.isdisjoint(ids_b)


def test_text_is_escaped():
    demo = widgets.static_slider(_frames(n_frames=2), ["</script><b>", "x"], title="<i>t</i>", value_format="{}")
    html_text = demo._repr_html_()
    assert "<i>" not in html_text and "&lt;i&gt;t&lt;/i&gt;" in html_text
    parsed = _parse(html_text)
    assert _data(parsed)["labels"][0] == "</script><b>"  # survives inside the JSON block
    assert html_text.count("</script>") == 2  # only the two real closing tags


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_script_swaps_frames_on_input_event_in_node():
    """Run the inline script against a minimal fake DOM and fire an `input` event."""
    frames = _frames(n_frames=4)
    demo = widgets.static_slider(frames, [0.1, 0.2, 0.3, 0.4], label="T", initial=0)
    parsed = _parse(demo._repr_html_())
    elements = {a["id"]: a for _, a in parsed.elements if "id" in a}
    data_text = [t for attrs, t in parsed.scripts if attrs.get("type") == "application/json"][0]
    (code,) = [t for attrs, t in parsed.scripts if "type" not in attrs]
    harness = """
const spec = %s;
const dataId = %s;
const dataText = %s;
const els = {};
for (const id of Object.keys(spec)) {
  els[id] = {id: id, attrs: spec[id], src: spec[id].src, value: spec[id].value, textContent: "",
             listeners: {}, addEventListener(t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); },
             setAttribute(k, v) { this.attrs[k] = v; }};
}
els[dataId].textContent = dataText;
global.document = {getElementById: (id) => els[id] || null};
%s
const slider = Object.values(els).find((e) => e.attrs["data-reprolib-role"] === "slider");
slider.value = "3";
slider.listeners["input"].forEach((f) => f());
const readout = Object.values(els).find((e) => e.attrs["data-reprolib-role"] === "value");
const imgs = Object.values(els).filter((e) => "data-reprolib-panel" in e.attrs);
console.log(JSON.stringify({srcs: imgs.map((e) => e.src), readout: readout.textContent}));
""" % (json.dumps(elements), json.dumps(demo.uid + "-data"), json.dumps(data_text), code)
    out = subprocess.run(["node", "-e", harness], capture_output=True, text=True, timeout=30, check=True)
    result = json.loads(out.stdout)
    assert result["readout"] == "T = 0.40"
    assert len(result["srcs"]) == 2
    for p, src in enumerate(result["srcs"]):
        np.testing.assert_array_equal(_decode_png(src.split(",", 1)[1]), frames[3][p])


def test_save_html_writes_a_standalone_page(tmp_path):
    demo = widgets.static_slider(_frames(n_frames=3), [0, 1, 2], title="demo")
    path = demo.save_html(tmp_path / "demo.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert demo._repr_html_() in text  # same uid: the page holds exactly this demo
    assert "<title>demo</title>" in text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(frames=[], values=[]), "frames is empty"),
        (dict(frames=_frames(n_frames=3), values=[0, 1]), "3 frames but 2 values"),
        (dict(frames=[np.zeros((4, 4, 3))], values=[0], initial=5), "initial must be"),
        (dict(frames=[np.full((4, 4, 3), 255.0)], values=[0]), "must be in [0, 1]"),
        (dict(frames=[np.zeros((3, 6, 6))], values=[0]), "channels last"),
        (dict(frames=[[np.zeros((4, 4))], [np.zeros((4, 4)), np.zeros((4, 4))]], values=[0, 1]), "panels"),
        (dict(frames=[np.zeros((4, 4)), np.zeros((5, 4))], values=[0, 1]), "is (5, 4)"),
        (dict(frames=[np.zeros((4, 4))], values=[0], panel_titles=["a", "b"]), "panel_titles"),
        (dict(frames=[np.zeros((4, 4))], values=["x"]), "value_format"),
    ],
)
def test_static_slider_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError) as info:
        widgets.static_slider(**kwargs)
    assert message in str(info.value)


def test_to_png_bytes_rejects_non_images():
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        widgets.to_png_bytes([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="NaN"):
        widgets.to_png_bytes(np.full((2, 2), np.nan))


# ----------------------------------------------------------------------------- live slider


def _render(value):
    """Two panels whose pixels encode the value, so a change is visible in the PNG bytes."""
    img = np.full((6, 8, 3), value, dtype=np.float64)
    return [img, 1.0 - img]


def test_live_slider_renders_initial_value_and_updates_on_change():
    calls = []

    def render(v):
        calls.append(v)
        return _render(v)

    values = [0.0, 0.25, 0.5, 1.0]
    demo = widgets.live_slider(render, values, label="T", description="annealed mean", panel_titles=["a", "b"])
    assert calls == [0.5]  # the middle value, rendered once at construction
    assert len(demo.images) == 2
    assert [bytes(im.value) for im in demo.images] == [widgets.to_png_bytes(x) for x in _render(0.5)]

    demo.slider.value = 0.25  # what a user's drag does
    assert calls == [0.5, 0.25]  # render gets the exact value, not a rounded label
    assert [bytes(im.value) for im in demo.images] == [widgets.to_png_bytes(x) for x in _render(0.25)]
    decoded = np.asarray(Image.open(io.BytesIO(bytes(demo.images[0].value))))
    assert decoded.shape == (6, 8, 3) and int(decoded[0, 0, 0]) == round(0.25 * 255)
    assert demo.slider.label == "0.25"


def test_live_slider_single_image_and_errors():
    demo = widgets.live_slider(lambda v: torch.full((3, 4, 4), v), [0.0, 1.0], initial=0, width=64)
    assert len(demo.images) == 1 and demo.images[0].layout.width == "64px"
    before = bytes(demo.images[0].value)
    demo.slider.value = 1.0
    assert bytes(demo.images[0].value) != before

    with pytest.raises(ValueError, match="distinct"):
        widgets.live_slider(_render, [0.1, 0.1])
    with pytest.raises(TypeError, match="callable"):
        widgets.live_slider(np.zeros((2, 2)), [0.1])
    changing = widgets.live_slider(lambda v: [np.zeros((2, 2))] * (1 if v < 0.5 else 2), [0.0, 1.0], initial=0)
    with pytest.raises(ValueError, match="render returned 2 panels, expected 1"):
        changing.slider.value = 1.0
