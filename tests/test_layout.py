"""The package's layout rules, read from the source (CONTRIBUTING.md, "Layout").

Layers, lowest first: the core (top-level modules: config, color, quantize, train, results, claims, ...),
then ``data`` and ``nn``, then ``models`` and ``metrics``, then ``book``, then ``chapters``; the CLI
(``reprolib.__main__``) sits on top. A module imports only from its own layer or lower ones, never
sideways into another package of its layer. Chapters import each other only through the other chapter's
package (its public interface), nothing below ``chapters`` imports a chapter, and there are no import
cycles. Every module stays under about 600 lines, and every function a chapter displays with
``show_source`` shows the method, not argument checking.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch

from reprolib.book.display import source_of
from reprolib.chapters import CHAPTERS, chapter_module

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "reprolib"

RANK = {"core": 0, "data": 1, "nn": 1, "models": 2, "metrics": 2, "book": 3, "chapters": 4, "cli": 5}
MAX_LINES = 620  # "about 600" (DESIGN section 10); two lpips modules sit just above 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if parts[1] == "__main__":
        return "cli"
    return parts[1] if parts[1] in RANK else "core"


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported reprolib module, line) for every import in ``module``, at module level or inside a function.

    ``from package import name`` counts as importing ``package.name`` when that is a module, else ``package``.
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pytest.fail(f"{module}:{node.lineno}: relative import; the package uses absolute imports")
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            continue
        out += [(n, node.lineno) for n in names if n in MODULES and n != module]
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def test_the_graph_sees_the_known_edges():
    # Control: the reader must find imports that are known to exist, or every rule below passes vacuously.
    edges = {m: {t for t, _ in GRAPH[m]} for m in GRAPH}
    assert "reprolib.chapters.automatic" in edges["reprolib.chapters.lpips.experiment"]
    assert "reprolib.metrics.lpips" in edges["reprolib.chapters.lpips.experiment"]
    assert "reprolib.quantize" in edges["reprolib.models.eccv16"]
    assert "reprolib.chapters" in edges["reprolib.__main__"]
    assert len(MODULES) > 40


def test_layers_depend_one_way():
    bad = [f"{m}:{line} imports {t} ({_layer(m)} -> {_layer(t)})"
           for m, edges in GRAPH.items() for t, line in edges
           if _layer(t) != _layer(m) and RANK[_layer(t)] >= RANK[_layer(m)]]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_nothing_below_the_chapters_imports_one():
    bad = [f"{m}:{line} imports {t}" for m, edges in GRAPH.items() for t, line in edges
           if t.startswith("reprolib.chapters") and _layer(m) not in ("chapters", "cli")]
    assert not bad, "\n".join(bad)


def test_chapters_use_each_other_only_through_the_package():
    bad = []
    for m, edges in GRAPH.items():
        if not m.startswith("reprolib.chapters."):
            continue
        own = m.split(".")[2]
        for t, line in edges:
            parts = t.split(".")
            if t.startswith("reprolib.chapters.") and parts[2] != own and len(parts) > 3:
                bad.append(f"{m}:{line} imports {t}; use the package reprolib.chapters.{parts[2]} instead")
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_cycle_finder_finds_a_cycle():
    graph = {"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1)], "d": [("a", 1)]}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda m: m.removeprefix("reprolib."))
def test_no_module_over_about_600_lines(module):
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{module} has {n} lines; split it by what its parts do (DESIGN section 10)"


def test_every_chapter_is_a_package_with_the_standard_files():
    for name in CHAPTERS:
        folder = PACKAGE / "chapters" / name
        assert folder.is_dir(), f"chapter {name} must be the package reprolib/chapters/{name}/"
        for part in ("__init__.py", "experiment.py", "verdicts.py", "paper.py", "checks.py"):
            assert (folder / part).is_file(), f"chapter {name} lacks {part}"
        module = chapter_module(name)
        assert callable(module.run) and callable(module.claims) and callable(module.paper_tables)


# ------------------------------------------------------------------ what the chapters show the reader


def _shown_objects():
    """(chapter, expression, object) for every ``show_source(...)`` in the chapter notebooks, evaluated in
    the namespace of the notebook's import cell."""
    out = []
    for name in CHAPTERS:
        nb = json.loads((ROOT / chapter_module(name).NOTEBOOK).read_text(encoding="utf-8"))
        cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        (imports,) = [c for c in cells if c.startswith("import matplotlib")]
        namespace: dict = {}
        exec(imports.split("\n\nPROFILE")[0], namespace)  # imports only
        for cell in cells:
            for expr in re.findall(r"show_source\(([^()]*)\)", cell):
                out.append((name, expr, eval(expr, namespace)))
    return out


SHOWN = _shown_objects()


def test_the_chapters_show_source():
    assert len(SHOWN) >= 12 and {c for c, _, _ in SHOWN} == set(CHAPTERS)


@pytest.mark.parametrize("chapter, expr, obj", SHOWN, ids=[f"{c}:{e}" for c, e, _ in SHOWN])
def test_displayed_source_is_the_method(chapter, expr, obj):
    code = source_of(obj)
    checks = [ln.strip() for ln in code.splitlines() if re.search(r"\braise\b|\bisinstance\(", ln)]
    assert not checks, (f"{chapter}: show_source({expr}) displays argument checking; move it into a helper "
                        f"attached with reprolib.validation.checked_by:\n" + "\n".join(checks))


# ------------------------------------------------------------------ the checks still run


def _bad_calls():
    from reprolib import quantize
    from reprolib.chapters.lpips import judgments, ranking, vectors
    from reprolib.chapters.user_guided import hints, palette
    from reprolib.metrics.lpips import LPIPS
    from reprolib.models import ECCV16, siggraph17

    ab = torch.zeros(1, 2, 8, 8)
    return [
        ("smooth_l1", lambda: siggraph17.smooth_l1_loss(ab, ab[:, :1]), "floating \\(N, 2, H, W\\)"),
        ("smooth_l1 reduction", lambda: siggraph17.smooth_l1_loss(ab, ab, reduction="max"), "'mean' or 'sum'"),
        ("global_histogram", lambda: siggraph17.global_histogram(ab, pool=0), "positive integer"),
        ("annealed_mean", lambda: quantize.annealed_mean(torch.zeros(1, 313, 2, 2), T=0), "T must be"),
        ("reveal_patches", lambda: hints.reveal_patches(ab, torch.tensor([[0, 6, 6, 4]])), "outside"),
        ("suggest_colors", lambda: palette.suggest_colors(torch.zeros(313), bins=torch.zeros(3, 2)), "matching"),
        ("equal_mse_2afc", lambda: judgments.equal_mse_2afc(torch.rand(1, 3, 16, 16), torch.Generator(),
                                                            psnr=(40.0, 20.0)), "psnr must be"),
        ("_vectors", lambda: vectors._vectors(None, [torch.rand(1, 3, 4, 4) * 3], [(0, 0)], 1, "cpu"), "\\[0, 1\\]"),
        ("RankingHead", lambda: ranking.RankingHead(eps=0), "eps must be"),
        ("RankingHead pair", lambda: ranking.RankingHead()(torch.zeros(3), torch.zeros(2)), "same number"),
        ("ECCV16", lambda: ECCV16(width=1 / 16, head="mode"), "'classification' or 'regression'"),
        ("LPIPS.aggregate", lambda: LPIPS("alex", pretrained=False).aggregate([torch.zeros(1, 1, 1, 1)]),
         "layer distances"),
    ]


@pytest.mark.parametrize("what, call, message", _bad_calls(), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_still_gets_a_clear_error(what, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_checked_by_runs_the_check_with_defaults_and_keeps_the_function():
    from reprolib.validation import checked_by

    seen = []

    def check(x, scale):
        seen.append((x, scale))
        if x < 0:
            raise ValueError("x must be >= 0")

    @checked_by(check)
    def f(x, scale=2):
        """Doc."""
        return x * scale

    assert f(3) == 6 and f(3, scale=4) == 12 and seen == [(3, 2), (3, 4)]
    with pytest.raises(ValueError, match="x must be"):
        f(-1)
    with pytest.raises(TypeError):
        f(1, 2, 3)
    assert f.__doc__ == "Doc." and f.__name__ == "f" and "return x * scale" in source_of(f)
