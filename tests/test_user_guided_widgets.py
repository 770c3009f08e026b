"""The user-guided chapter's demos: the live hint editor driven headlessly, and the static step-through."""

import re

import pytest
import torch

from reprolib.chapters.user_guided import demo as widgets


def fake_colorize(L, hint, mask):
    """A stand-in network: every pixel takes the mean colour of the hints (grey without hints); the
    'distribution' puts its mass on two fixed classes of the 313 bins."""
    if mask.sum() > 0:
        mean = (hint * mask).sum(dim=(2, 3)) / mask.sum()
        ab = mean[:, :, None, None].expand(-1, -1, *L.shape[-2:]).clone()
    else:
        ab = torch.zeros(1, 2, *L.shape[-2:])
    logits = torch.full((1, 313, L.shape[-2] // 4, L.shape[-1] // 4), -10.0)
    logits[:, [100, 200]] = 5.0
    return ab, logits


def fake_palette(logits, y, x):
    return [(40.0, 30.0), (-30.0, 20.0)]


@pytest.fixture
def editor():
    L = torch.linspace(10, 90, 32).repeat(32, 1)
    return widgets.hint_editor(L, fake_colorize, palette=fake_palette, grid=8, patch=3)


def test_clicking_a_tile_places_a_hint_and_updates_the_image(editor):
    before = editor.image.value
    assert editor.hints == [] and editor.selected is None
    editor.tiles[2 * 8 + 5].click()  # row 2, column 5
    assert len(editor.hints) == 1 and editor.selected == 0
    h = editor.hints[0]
    assert (h["y"], h["x"]) == (2 * 4 + 2, 5 * 4 + 2)
    assert h["ab"] == (40.0, 30.0)  # the first palette suggestion is the default colour
    assert editor.image.value != before
    _, mask = editor.hint_tensors()
    assert int(mask.sum()) == 9  # a 3x3 patch
    # The tile under the hint shows its colour, a far tile stays grey.
    assert editor.tiles[2 * 8 + 5].style.button_color != editor.tiles[7 * 8 + 0].style.button_color
    assert len(editor.select.options) == 1 and len(editor.palette_row.children) == 2


def test_move_recolour_select_and_remove(editor):
    editor.click_tile(0, 0)
    editor.click_tile(7, 7)
    assert len(editor.hints) == 2 and editor.selected == 1
    editor.mode.value = "move"
    editor.click_tile(4, 4)
    assert len(editor.hints) == 2 and (editor.hints[1]["y"], editor.hints[1]["x"]) == (18, 18)
    img = editor.image.value
    editor.palette_row.children[1].click()  # second suggestion
    assert editor.hints[1]["ab"] == (-30.0, 20.0) and editor.image.value != img
    editor.picker.value = "#0000ff"  # pure blue: b strongly negative
    assert editor.hints[1]["ab"][1] < -80
    editor.select.value = 0
    assert editor.selected == 0
    editor.remove_button.click()
    assert len(editor.hints) == 1 and editor.selected == 0 and (editor.hints[0]["y"], editor.hints[0]["x"]) == (18, 18)
    editor.remove_button.click()
    assert editor.hints == [] and editor.selected is None and editor.palette_row.children == ()


def test_editor_rejects_bad_arguments():
    L = torch.rand(30, 30) * 100
    with pytest.raises(ValueError, match="grid"):
        widgets.hint_editor(L, fake_colorize, grid=8)
    with pytest.raises(TypeError, match="colorize"):
        widgets.hint_editor(torch.rand(32, 32), "not a function")
    with pytest.raises(ValueError, match="outside"):
        widgets.hint_editor(torch.rand(32, 32) * 100, fake_colorize, grid=8).click_tile(8, 0)


def test_static_hint_steps_follow_the_demo_protocol():
    frames = [[torch.full((3, 8, 8), v), torch.full((3, 8, 8), 1 - v)] for v in (0.0, 0.5, 1.0)]
    palettes = [[], [("#ff0000", "a 60, b 40")], [("#00ff00", "x"), ("#0000ff", "y")]]
    demo = widgets.static_hint_steps(frames, ["0 hints", "1 hint", "2 hints"], palettes, title="t", width=64,
                                     panel_titles=["input", "output"])
    page = demo._repr_html_()
    assert 'class="reprolib-demo"' in page and 'data-reprolib-demo="hints"' in page
    assert 'data-reprolib-role="slider"' in page and page.count('data-reprolib-role="button"') == 2
    assert 'max="2"' in page and len(re.findall(r"<img ", page)) == 2
    assert 'value="1"' in page  # starts in the middle: "previous" and "next" both change the picture
    assert "#00ff00" in page and "http" not in page.replace('http-equiv', '')
    other = widgets.static_hint_steps(frames, ["a", "b", "c"], palettes)
    assert other.uid != demo.uid
    # Different frames give different PNGs (so moving the slider changes the image's src).
    assert demo.frames_png[0][0] != demo.frames_png[2][0]


def test_static_hint_steps_validates():
    img = torch.zeros(3, 4, 4)
    with pytest.raises(ValueError, match="one of each"):
        widgets.static_hint_steps([img, img], ["a"], [[], []])
    with pytest.raises(ValueError, match="swatch"):
        widgets.static_hint_steps([img], ["a"], [[("#fff",)]])
    with pytest.raises(ValueError, match="sizes"):
        widgets.static_hint_steps([img, torch.zeros(3, 5, 5)], ["a", "b"], [[], []])
