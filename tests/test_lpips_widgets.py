"""The distortion explorer's static HTML follows the demo protocol; the live one reacts to its controls."""

import base64
import json
import re

import numpy as np
import pytest

from reprolib.book.widgets import LiveExplorer, static_explorer

CONTROLS = [("a", "A", "select", [("one", 1), ("two", 2)]),
            ("b", "B", "slider", [("0.0", 0.0), ("0.5", 0.5), ("1.0", 1.0)])]


def render(a, b):
    img = np.full((8, 8, 3), min(1.0, 0.1 * a + 0.5 * b), dtype=np.float64)
    return [img, 1.0 - img], f"a={a} b={b}"


def test_static_explorer_protocol_and_frames():
    demo = static_explorer(render, CONTROLS, title="t", panel_titles=["x", "y"])
    assert len(demo) == 6
    html = demo._repr_html_()
    assert 'class="reprolib-demo"' in html and 'data-reprolib-demo="explorer"' in html
    assert html.count('data-reprolib-role="select"') == 1 and html.count('data-reprolib-role="slider"') == 1
    assert '<input type="range"' in html and "<select" in html
    assert len(re.findall(r'<img id="[^"]+-img-\d"', html)) == 2
    assert "http" not in html.split("<script>")[1]  # no external request
    # frames differ where the rendered images differ; texts follow row-major order (last control fastest)
    assert demo.texts == [f"a={a} b={b}" for a in (1, 2) for b in (0.0, 0.5, 1.0)]
    assert demo.frames_png[0][0] != demo.frames_png[1][0]
    other = static_explorer(render, CONTROLS)
    assert other.uid != demo.uid


def test_explorer_errors():
    with pytest.raises(ValueError, match="kind"):
        static_explorer(render, [("a", "A", "radio", [("x", 1)])])
    with pytest.raises(ValueError, match="no options"):
        static_explorer(render, [("a", "A", "select", [])])
    with pytest.raises(TypeError, match="callable"):
        LiveExplorer(None, CONTROLS)


def test_live_explorer_updates_images_and_text():
    demo = LiveExplorer(render, CONTROLS)
    first = demo.images[0].value
    assert "a=1 b=0.0" in demo.text.value
    demo.controls["b"].value = 1.0
    assert demo.images[0].value != first
    assert "a=1 b=1.0" in demo.text.value
    demo.controls["a"].value = 2
    assert "a=2 b=1.0" in demo.text.value


def test_static_explorer_stores_each_distinct_picture_once():
    def render_parts(a, b):  # panel 0 depends on a only, panel 1 on b only
        return [np.full((3, 3, 3), 0.1 * a), np.full((4, 4, 3), 0.5 * b)], ""

    demo = static_explorer(render_parts, CONTROLS)
    html = demo._repr_html_()
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert len(data["frames"]) == 6 and len(data["images"]) == 2 + 3
    for frame, pngs in zip(data["frames"], demo.frames_png):
        assert [base64.b64decode(data["images"][k]) for k in frame] == pngs
