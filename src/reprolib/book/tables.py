"""The book's tables: paper against recorded runs, claim verdicts, facts (HTML in the page, text elsewhere)."""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np

from reprolib.claims import VERDICTS, MissingMetricError, PaperNumber, _fmt, _is_number, lookup
from reprolib.results import DASH, _claim_list, claims_summary


class _Table:
    """A small table that renders as Markdown (``to_markdown``) and HTML (Jupyter's ``_repr_html_``)."""

    def __init__(self, header: list[str], body: list[list[str]], caption: str = "") -> None:
        self.header = header
        self.body = body
        self.caption = caption

    def to_markdown(self) -> str:
        esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = ["| " + " | ".join(esc(h) for h in self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.body]
        if self.caption:
            lines = [self.caption, ""] + lines
        return "\n".join(lines)

    def _html_head(self) -> str:
        return "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in self.header) + "</tr>"

    def _html_cell(self, i: int, j: int) -> str:
        return html.escape(self.body[i][j])

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = "".join(
            "<tr>" + "".join(f"<td>{self._html_cell(i, j)}</td>" for j in range(len(row))) + "</tr>"
            for i, row in enumerate(self.body)
        )
        return f'<table class="reprolib-table">{cap}<thead>{self._html_head()}</thead><tbody>{rows}</tbody></table>'

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()


def _spec(item: str | Sequence[str]) -> tuple[str, str, str | None]:
    if isinstance(item, str):
        return item, item, None
    item = tuple(item)
    if len(item) == 2:
        return item[0], item[1], None
    if len(item) == 3:
        return item[0], item[1], item[2]
    raise ValueError(f"expected a key, (key, label) or (key, label, format spec), got {item!r}")


class ComparisonTable(_Table):
    """Paper vs recorded runs vs this run, for each row and metric column.

    Attributes beyond the rendered cells: ``values[(row, column, source)]`` holds the raw value or
    None, and ``missing`` lists ``(source, key)`` pairs that were not found (shown as an en dash).
    """

    def __init__(self, header, body, groups, sources, values, missing, caption="", group_sources=None):
        super().__init__(header, body, caption)
        self.groups = groups
        self.sources = sources
        self.group_sources = group_sources or [list(sources) for _ in groups]  # the sub-columns of each group
        self.values = values
        self.missing = missing

    def _html_head(self) -> str:
        top = f'<th rowspan="2">{html.escape(self.header[0])}</th>' + "".join(
            f'<th colspan="{len(srcs)}" style="text-align:center">{html.escape(g)}</th>'
            for g, srcs in zip(self.groups, self.group_sources)
        )
        sub = "".join(f"<th>{html.escape(s)}</th>" for srcs in self.group_sources for s in srcs)
        return f"<tr>{top}</tr><tr>{sub}</tr>"


def comparison_table(
    rows: Sequence[str | tuple[str, str]],
    columns: Sequence[str | tuple[str, str] | tuple[str, str, str]],
    paper: Mapping[str, Any],
    runs: Mapping[str, Mapping[str, Any] | None],
    *,
    key: str = "{row}.{column}",
    row_header: str = "",
    caption: str = "",
    paper_only: Sequence[str] = (),
    measured_only: Sequence[str] = (),
) -> ComparisonTable:
    """Table of the paper's numbers beside measured ones.

    Args:
        rows: row keys, or ``(key, label)`` pairs (e.g. methods: ``("full", "Ours (full)")``).
        columns: metric keys, or ``(key, label)`` or ``(key, label, format spec)``, e.g.
            ``("auc", "AuC (%)", ".1f")``. Default format: 4 significant digits.
        paper: the paper's numbers by dotted key (numbers or :class:`PaperNumber`), flat or nested.
        runs: label -> results dict (with ``"metrics"``) or None, in display order, e.g.
            ``{"full (recorded)": load_results(...), "fast (recorded)": ..., "this run": results}``.
        key: template of the dotted key of a cell, formatted with ``row`` and ``column``; used both in
            ``paper`` and in each run's ``metrics``.
        row_header: header of the first column.
        paper_only: column keys that get the ``Paper`` sub-column alone (e.g. a data set the runs do not use).
        measured_only: column keys that get the runs' sub-columns alone (a quantity the paper does not report).

    Each metric column gets the sub-columns ``Paper`` and one per run; a missing value is an en dash.
    """
    row_specs = [_spec(r)[:2] for r in rows]
    col_specs = [_spec(c) for c in columns]
    if not row_specs or not col_specs:
        raise ValueError("comparison_table needs at least one row and one column")
    for label, res in runs.items():
        if res is not None and (not isinstance(res, Mapping) or "metrics" not in res):
            raise ValueError(f"run {label!r} must be a results dict with a 'metrics' entry, or None")
    sources = ["Paper", *runs.keys()]
    keys = {c[0] for c in col_specs}
    unknown = sorted(set(paper_only) - keys) + sorted(set(measured_only) - keys)
    if unknown or set(paper_only) & set(measured_only):
        raise ValueError(f"paper_only and measured_only must name distinct columns of this table ({sorted(keys)}), "
                         f"got paper_only={list(paper_only)}, measured_only={list(measured_only)}")
    if measured_only and not runs:
        raise ValueError("measured_only columns need at least one run")
    shown = {c[0]: ["Paper"] if c[0] in paper_only else list(runs) if c[0] in measured_only else sources
             for c in col_specs}
    values: dict[tuple[str, str, str], Any] = {}
    missing: list[tuple[str, str]] = []

    def get(source: str, tree: Mapping[str, Any] | None, k: str) -> Any:
        if tree is None:
            return None
        if k in tree:  # flat dict with dotted keys
            v = tree[k]
        else:
            try:
                v = lookup(tree, k)
            except MissingMetricError:
                missing.append((source, k))
                return None
        return v.value if isinstance(v, PaperNumber) else v

    body = []
    for rkey, rlabel in row_specs:
        line = [rlabel]
        for ckey, _clabel, spec in col_specs:
            k = key.format(row=rkey, column=ckey)
            for source in shown[ckey]:
                if source == "Paper":
                    tree = paper
                else:
                    res = runs[source]
                    tree = res["metrics"] if res is not None else None
                v = get(source, tree, k)
                values[(rkey, ckey, source)] = v
                if v is None:
                    line.append(DASH)
                elif spec and _is_number(v):
                    line.append(format(float(v) if isinstance(v, (float, np.floating)) else v, spec))
                else:
                    line.append(_fmt(v))
        body.append(line)
    groups = [c[1] for c in col_specs]
    group_sources = [shown[c[0]] for c in col_specs]
    header = [row_header] + [f"{g}: {s}" if len(groups) > 1 else s for g, srcs in zip(groups, group_sources) for s in srcs]
    return ComparisonTable(header, body, groups, sources, values, missing, caption, group_sources)


_BADGE = {"reproduced": "#1a7f37", "not_reproduced": "#cf222e", "inconclusive": "#9a6700", "not_testable": "#6e7781"}


def _evidence_summary(evidence: Mapping[str, Any]) -> str:
    if "summary" in evidence:
        return str(evidence["summary"])
    parts = [f"{k} = {_fmt(v)}" for k, v in evidence.items() if _is_number(v) or isinstance(v, str)]
    values = evidence.get("values")
    if isinstance(values, Mapping):
        parts += [f"{k} = {_fmt(v)}" for k, v in values.items()]
    return "; ".join(parts)


def _badge(verdict: str) -> str:
    """A verdict as a coloured HTML badge."""
    return (
        f'<span style="background:{_BADGE[verdict]};color:#fff;padding:1px 7px;border-radius:8px;'
        f'white-space:nowrap">{html.escape(verdict.replace("_", " "))}</span>'
    )


def seeds_text(claim: Mapping[str, Any]) -> str:
    """``"2 of 3 seeds reproduced, 1 inconclusive"`` from a claim's seed study, or ``"no seed study"``."""
    seeds = claim.get("seeds")
    if not seeds:
        return "no seed study"
    counts, n = seeds["counts"], len(seeds["verdicts"])
    parts = [f"{counts[v]} {v.replace('_', ' ')}" for v in VERDICTS if counts.get(v)]
    return f"{n} seeds: " + ", ".join(parts)


def _evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    tests = evidence.get("tests")
    if tests:
        return [t["summary"] for t in tests]
    return [_evidence_summary(evidence)]


class VerdictTable(_Table):
    """Claims with their verdicts; HTML shows the verdicts as coloured badges and one evidence line per comparison
    (estimate, 95 % interval, margin; the margin's reason on hover)."""

    def __init__(self, header, body, verdicts, caption="", claims=()):
        super().__init__(header, body, caption)
        self.verdicts = verdicts
        self.claims = list(claims)

    def _html_cell(self, i: int, j: int) -> str:
        if j == 2:
            return _badge(self.verdicts[i])
        return super()._html_cell(i, j)

    def _evidence_html(self, i: int) -> str:
        c = self.claims[i]
        tests = c["evidence"].get("tests")
        if not tests:
            return html.escape(self.body[i][5])
        # one block per comparison, its left rule in the colour of its own verdict
        return "".join(
            f'<div title="{html.escape(t.get("reason", ""))}" style="border-left:3px solid {_BADGE[t["verdict"]]};'
            f'padding-left:5px;margin-bottom:3px">{html.escape(t["summary"])}</div>' for t in tests)

    def _repr_html_(self) -> str:
        # The statement (with its id in small print); the verdict, under it the single run's and the seeds';
        # the evidence, one comparison a line.
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = []
        for i, row in enumerate(self.body):
            c = self.claims[i]
            single = c.get("single_run", c["verdict"])
            under = (f'<br><span style="font-size:75%;white-space:nowrap">single run: {html.escape(single.replace("_", " "))}'
                     f'<br>{html.escape(row[4])}</span>')
            rows.append(
                f'<tr><td style="width:38%">{html.escape(row[1])}<br><code style="font-size:75%">{html.escape(row[0])}</code></td>'
                f"<td>{self._html_cell(i, 2)}{under}</td>"
                f'<td style="font-size:85%">{self._evidence_html(i)}</td></tr>')
        head = "<tr><th>Claim</th><th>Verdict</th><th>Evidence: estimate [95 % interval] against the margin</th></tr>"
        return f'<table class="reprolib-table">{cap}<thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def verdict_table(claims: Mapping[str, Any] | Sequence[Mapping[str, Any]], caption: str = "") -> VerdictTable:
    """Table of id, statement, verdict, the single run's verdict, the seed study's count and the evidence (one
    comparison a line: estimate, 95 % bootstrap interval, margin) for evaluated claims (a list from
    :func:`evaluate_claims`, or a results dict)."""
    items = _claim_list(claims)
    body, verdicts = [], []
    for c in items:
        if c.get("verdict") not in VERDICTS:
            raise ValueError(f"claim {c.get('id')!r} has no valid verdict; evaluate it first")
        verdicts.append(c["verdict"])
        body.append([c["id"], c["statement"], c["verdict"].replace("_", " "),
                     c.get("single_run", c["verdict"]).replace("_", " "), seeds_text(c),
                     "; ".join(_evidence_lines(c["evidence"]))])
    caption = caption or claims_summary(items)
    return VerdictTable(["Claim", "Statement", "Verdict", "Single run", "Seeds", "Evidence"], body, verdicts, caption,
                        items)


class VerdictMatrix(_Table):
    """Claims (rows) by recorded runs (columns); HTML shows each verdict as a coloured badge."""

    def __init__(self, header, body, verdicts, caption="", notes=None):
        super().__init__(header, body, caption)
        self.verdicts = verdicts  # verdicts[i][j] for run column j (None: no recorded run)
        self.notes = notes  # notes[i][j]: the single run's and the seeds' verdicts under the badge

    def _html_cell(self, i: int, j: int) -> str:
        if j >= 2:
            v = self.verdicts[i][j - 2]
            note = self.notes[i][j - 2] if self.notes else None
            if v is None:
                return "\u2014"
            return _badge(v) + (f'<br><span style="font-size:75%">{html.escape(note)}</span>' if note else "")
        return super()._html_cell(i, j)

    def _repr_html_(self) -> str:
        # The statement with its id in small print, then one verdict badge per run.
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = "".join(
            f'<tr><td style="width:60%">{html.escape(row[1])}<br><code style="font-size:75%">{html.escape(row[0])}</code></td>'
            + "".join(f"<td>{self._html_cell(i, j)}</td>" for j in range(2, len(row)))
            + "</tr>"
            for i, row in enumerate(self.body)
        )
        head = "<tr><th>Claim</th>" + "".join(f"<th>{html.escape(h)}</th>" for h in self.header[2:]) + "</tr>"
        return f'<table class="reprolib-table">{cap}<thead>{head}</thead><tbody>{rows}</tbody></table>'


def verdict_matrix(runs: Mapping[str, Mapping[str, Any] | None], caption: str = "") -> VerdictMatrix:
    """One row per claim, one column per run: ``runs`` maps a column label (e.g. ``"fast (recorded)"``) to
    a results dict, or None when that run was not recorded (shown as a dash). Claims are listed in the
    order of their first appearance."""
    order: list[str] = []
    statements: dict[str, str] = {}
    by_run: dict[str, dict[str, str]] = {}
    notes: dict[tuple[str, str], str] = {}
    for label, res in runs.items():
        by_run[label] = {}
        for c in _claim_list(res):
            if c.get("verdict") not in VERDICTS:
                raise ValueError(f"claim {c.get('id')!r} in {label!r} has no valid verdict")
            if c["id"] not in statements:
                order.append(c["id"])
                statements[c["id"]] = c["statement"]
            by_run[label][c["id"]] = c["verdict"]
            notes[(label, c["id"])] = (f"single run {c.get('single_run', c['verdict']).replace('_', ' ')}; "
                                       f"{seeds_text(c)}")
    labels = list(runs)
    verdicts = [[by_run[l].get(cid) for l in labels] for cid in order]
    note_rows = [[notes.get((l, cid)) for l in labels] for cid in order]
    body = [[cid, statements[cid]] + [(v or "\u2014").replace("_", " ") for v in row] for cid, row in zip(order, verdicts)]
    return VerdictMatrix(["Claim", "Statement"] + labels, body, verdicts, caption, note_rows)


def facts_table(facts: Sequence[Mapping[str, Any]], caption: str = "") -> _Table:
    """Table of exact facts: name, expected, measured (with unit), tolerance, ok."""
    body = []
    for f in facts:
        unit = f" {f['unit']}" if f.get("unit") else ""
        body.append(
            [f["name"], _fmt(f["expected"]) + unit, _fmt(f["measured"]) + unit, _fmt(f.get("tol", 0)),
             "yes" if f["ok"] else "NO"]
        )
    return _Table(["Fact", "Expected", "Measured", "Tolerance", "OK"], body, caption)
