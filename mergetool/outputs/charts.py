"""Rank and value charts as hand-written inline SVG (no plotting library, no browser, no network).

Every position is computed here, in code, so the output is byte-identical for identical
inputs and tests can assert the geometry. Text stays text (searchable, readable by screen
readers). Every unit's line is a ``<g class="series">`` with an ``id`` (``bump-48``,
``rank63-49``, ``slope-48``) and its style in ``data-style``, so a browser test can count
what is drawn and check that no two lines look alike.

Styles. No palette has 63 distinguishable colours, so a line's identity is the triple
(colour, dash, marker) from 10 colours × 4 dash patterns × 4 marker shapes, assigned in rank
order so neighbouring lines differ in colour first. In the 34-unit charts the marker shape
instead says whether the unit is a merged one (square) or unchanged (circle), and colour ×
dash (40 styles) identifies the line. No two lines of one chart share a style.

Labels. Labels that would collide are moved apart vertically (:func:`dodge`) with a leader
line to their point; columns are spaced wider than the widest label (estimated
conservatively from its length), so labels of neighbouring columns cannot meet either.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import polars as pl

from mergetool.core.ranking import competition_rank, round4

if TYPE_CHECKING:
    from mergetool.core.mapping import MappingSet

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#4d4d4d", "#a6a600")
DASHES = ("", "7 3", "2 2", "9 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
FONT = 11  # px, labels
PITCH = 15  # px per rank: taller than a label line (Vietnamese diacritics included)
CHAR_W = 0.62 * FONT  # generous average advance of a character (DejaVu Sans ~0.55 em)


def _f(x: float) -> str:
    """A coordinate, deterministically formatted."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def fmt4(v: float, signed: bool = False) -> str:
    """A value as shown everywhere (:func:`mergetool.core.ranking.round4`: half-up to 4 decimals on the
    exact decimal), optionally with its sign; never ``-0.0000``."""
    d = round4(v) + 0  # -0.0000 -> 0.0000
    return f"{d:+}" if signed else f"{d}"


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def text_width(text: str, size: float = FONT) -> float:
    """A conservative estimate of the rendered width of ``text`` (px)."""
    return len(text) * 0.62 * size + 2


@dataclass(frozen=True)
class Style:
    color: str
    dash: str
    marker: str

    @property
    def key(self) -> str:
        return f"{self.color}|{self.dash or 'solid'}|{self.marker}"


def style(i: int, marker: str | None = None) -> Style:
    """The ``i``-th line style; unique for i < 160 (or i < 40 with a fixed ``marker``)."""
    return Style(PALETTE[i % 10], DASHES[(i // 10) % 4], marker or MARKERS[(i // 40) % 4])


def marker_svg(kind: str, x: float, y: float, color: str, *, hollow: bool = False,
               r: float = 3.6, extra: str = "") -> str:
    """A marker (circle, square, triangle, diamond) centred on (x, y)."""
    fill = "#fff" if hollow else color
    common = f'fill="{fill}" stroke="{color}" stroke-width="1.3"{extra}'
    if kind == "square":
        return f'<rect x="{_f(x - r)}" y="{_f(y - r)}" width="{_f(2 * r)}" height="{_f(2 * r)}" {common}/>'
    if kind == "triangle":
        return (f'<path d="M{_f(x)} {_f(y - r - 0.6)}L{_f(x + r + 0.4)} {_f(y + r - 0.4)}'
                f'L{_f(x - r - 0.4)} {_f(y + r - 0.4)}Z" {common}/>')
    if kind == "diamond":
        return (f'<path d="M{_f(x)} {_f(y - r - 0.6)}L{_f(x + r + 0.6)} {_f(y)}L{_f(x)} {_f(y + r + 0.6)}'
                f'L{_f(x - r - 0.6)} {_f(y)}Z" {common}/>')
    return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" {common}/>'


def dodge(wanted: Sequence[float], gap: float, lo: float = float("-inf"),
          hi: float = float("inf")) -> list[float]:
    """Positions as close as possible to ``wanted`` with at least ``gap`` between any two.

    Colliding labels are merged into clusters centred on their wanted positions (then kept
    within ``[lo, hi]`` where room allows); deterministic, order-preserving.
    """
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    clusters: list[list[int]] = []  # each: indices in order; position = start + k*gap
    starts: list[float] = []

    def place(members: list[int]) -> float:
        mean = sum(wanted[m] - k * gap for k, m in enumerate(members)) / len(members)
        span = (len(members) - 1) * gap
        return max(min(mean, hi - span), lo) if hi - lo >= span else lo

    for i in order:
        clusters.append([i])
        starts.append(place([i]))
        while len(clusters) > 1 and starts[-2] + len(clusters[-2]) * gap > starts[-1]:
            merged = clusters[-2] + clusters[-1]
            clusters[-2:] = [merged]
            starts[-2:] = [place(merged)]
    out = [0.0] * len(wanted)
    for members, start in zip(clusters, starts, strict=True):
        for k, m in enumerate(members):
            out[m] = start + k * gap
    return out


@dataclass
class Label:
    """A text label wanted at (x, y), anchored at its start (left) or end (right)."""
    x: float
    y: float
    text: str
    anchor: str = "start"
    point: tuple[float, float] | None = None
    cls: str = "label"
    title: str = ""
    y_final: float = field(default=0.0)


def place_column(labels: list[Label], lo: float = float("-inf"), hi: float = float("inf")) -> None:
    """Dodge the labels of one column (same x and anchor) so no two overlap vertically."""
    for lab, y in zip(labels, dodge([lab.y for lab in labels], PITCH, lo, hi), strict=True):
        lab.y_final = y


def labels_svg(labels: list[Label]) -> str:
    """Placed labels as text, each with a leader line to its point where it was moved."""
    out = []
    for lab in labels:
        if lab.point is not None and abs(lab.y_final - lab.y) > 0.5:
            px, py = lab.point
            tx = lab.x - 2 if lab.anchor == "start" else lab.x + 2
            out.append(f'<path class="leader" d="M{_f(px)} {_f(py)}L{_f(tx)} {_f(lab.y_final)}" '
                       'stroke="#999" stroke-width="0.7" fill="none"/>')
        title = f"<title>{_e(lab.title)}</title>" if lab.title else ""
        out.append(f'<text class="{lab.cls}" x="{_f(lab.x)}" y="{_f(lab.y_final)}" '
                   f'text-anchor="{lab.anchor}" dominant-baseline="central">{title}{_e(lab.text)}</text>')
    return "".join(out)


def _svg(width: float, height: float, title: str, body: str, cls: str = "chart") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" role="img" aria-label="{_e(title)}" '
            f'viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}" '
            f'font-size="{FONT}">'
            f"<title>{_e(title)}</title>"
            '<style>text{font-family:"DejaVu Sans",Arial,sans-serif;fill:#222}'
            "text.label{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
            "text.axis,text.note{fill:#555}</style>"
            f"{body}</svg>")


def _series_svg(gid: str, pts: Sequence[tuple[float, float]], gaps: list[bool], st: Style,
                title: str, *, width: float = 1.7, markers: bool = True) -> str:
    """A line through ``pts``; a segment whose ``gaps`` flag is set (an unknown year between
    the two points) is drawn thin and faint."""
    solid: list[str] = []
    faint: list[str] = []
    for k in range(1, len(pts)):
        seg = f"M{_f(pts[k - 1][0])} {_f(pts[k - 1][1])}L{_f(pts[k][0])} {_f(pts[k][1])}"
        (faint if gaps[k] else solid).append(seg)
    dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
    out = [f'<g class="series" id="{gid}" data-style="{st.key}"><title>{_e(title)}</title>']
    if solid:
        out.append(f'<path d="{"".join(solid)}" fill="none" stroke="{st.color}" '
                   f'stroke-width="{width}"{dash}/>')
    if faint:
        out.append(f'<path class="gap" d="{"".join(faint)}" fill="none" stroke="{st.color}" '
                   f'stroke-width="1" stroke-opacity="0.45"{dash}/>')
    if markers:
        out.extend(marker_svg(st.marker, x, y, st.color) for x, y in pts)
    out.append("</g>")
    return "".join(out)


def _col_head(x: float, top: float, text: str) -> str:
    return f'<text class="axis col" x="{_f(x)}" y="{_f(top - 18)}" text-anchor="middle">{_e(text)}</text>'


def _rank_ticks(n: int) -> list[int]:
    return sorted({1, *range(5, n + 1, 5), n})


@dataclass
class RankSeries:
    """One unit's ranks: ``points`` maps a column index to a rank."""
    code: str
    name: str
    points: dict[int, int]
    kind: str = ""  # "merged" / "unchanged" in 34-unit charts


def _columns_x(left: float, n: int, spacing: float) -> list[float]:
    return [left + k * spacing for k in range(n)]


def _label_spacing(texts: list[str], minimum: float = 110) -> float:
    widest = max((text_width(t) for t in texts), default=0)
    return max(minimum, widest + 26)


def bump_svg(columns: list[str], series: list[RankSeries], n_ranks: int, labels: dict[str, str], *,
             prefix: str = "bump", lane: list[tuple[int, str, str]] | None = None,
             counts: list[str] | None = None, title: str = "") -> str:
    """A bump chart: one line per series, rank 1 at the top, columns left to right.

    ``lane`` holds (column, code, name) of units with a value but no rank, drawn as hollow
    markers under the last rank; ``counts`` is a note under each column.
    """
    texts = [f"{s.name} {s.points[max(s.points)]}" for s in series if s.points]
    spacing = _label_spacing([*texts, *(counts or [])])
    left, top = max(46.0, text_width(labels["lane"]) + 12) if lane is not None else 46.0, 30
    xs = _columns_x(left + 14, len(columns), spacing)
    width = xs[-1] + spacing
    lane_y = top + (n_ranks + 1.5) * PITCH
    height = lane_y + (3.2 if lane is not None else 1) * PITCH + 10
    ry = {r: top + (r - 1) * PITCH for r in range(1, n_ranks + 1)}
    body = []
    for r in _rank_ticks(n_ranks):
        body.append(f'<path d="M{_f(left)} {_f(ry[r])}H{_f(xs[-1] + 8)}" stroke="#eee"/>'
                    f'<text class="axis" x="{_f(left - 6)}" y="{_f(ry[r])}" text-anchor="end" '
                    f'dominant-baseline="central">{r}</text>')
    for x, head in zip(xs, columns, strict=True):
        body.append(f'<path d="M{_f(x)} {_f(top - 6)}V{_f(ry[n_ranks] + 6)}" stroke="#ddd"/>'
                    + _col_head(x, top, head))
    order = sorted(series, key=lambda s: min((r, c) for c, r in s.points.items()) if s.points else (0, 0))
    styled = {s.code: style(i, {"merged": "square", "unchanged": "circle"}.get(s.kind))
              for i, s in enumerate(order)}
    cols_labels: dict[int, list[Label]] = {}
    for s in series:
        if not s.points:
            continue
        cs = sorted(s.points)
        pts = [(xs[c], ry[s.points[c]]) for c in cs]
        gaps = [False] + [b - a > 1 for a, b in itertools.pairwise(cs)]
        hist = ", ".join(f"{columns[c]}: {s.points[c]}" for c in cs)
        body.append(_series_svg(f"{prefix}-{s.code}", pts, gaps, styled[s.code], f"{s.name} — {hist}"))
        last = cs[-1]
        cols_labels.setdefault(last, []).append(Label(
            xs[last] + 8, ry[s.points[last]], f"{s.name} {s.points[last]}", point=pts[-1]))
    for c in sorted(cols_labels):
        place_column(cols_labels[c], top - 4, lane_y - PITCH)
        body.append(labels_svg(cols_labels[c]))
    if lane is not None:
        body.append(f'<text class="axis" x="{_f(left - 6)}" y="{_f(lane_y)}" text-anchor="end" '
                    f'dominant-baseline="central">{_e(labels["lane"])}</text>')
        body.append(f'<path d="M{_f(left)} {_f(lane_y)}H{_f(xs[-1] + 8)}" stroke="#eee" '
                    'stroke-dasharray="2 3"/>')
        body.append('<g id="incomplete-points">')
        by_col: dict[int, list[tuple[str, str]]] = {}
        for c, code, name in lane:
            by_col.setdefault(c, []).append((code, name))
        per_row = max(1, int((spacing - 20) // 8))
        for c, units in sorted(by_col.items()):
            for k, (code, _name) in enumerate(units):
                row, pos = divmod(k, per_row)
                n_row = min(per_row, len(units) - row * per_row)
                x = xs[c] + (pos - (n_row - 1) / 2) * 8
                body.append(marker_svg("circle", x, lane_y + row * 8, "#777", hollow=True, r=2.8,
                                       extra=f' data-code="{code}"'))
        body.append("</g>")
    if counts:
        cy = lane_y + (2.2 if lane is not None else 0.6) * PITCH
        for x, note in zip(xs, counts, strict=True):
            body.append(f'<text class="note" x="{_f(x)}" y="{_f(cy)}" text-anchor="middle" '
                        f'dominant-baseline="central">{_e(note)}</text>')
    return _svg(width, height, title, "".join(body))


def bump_chart(dti: pl.DataFrame, merged: set[str], labels: dict[str, str]) -> str:
    """Ranks on the 34-unit basis by year, one line per unit with at least one rank.

    Units with a value but no comparable rank in a year are hollow markers in a lane under
    the last rank, and each year says how many units have no rank: incompleteness is shown.
    """
    years = sorted(dti["year"].unique().to_list())
    col = {y: k for k, y in enumerate(years)}
    n_units = dti["code"].n_unique()
    by_code: dict[str, list[tuple[int, int | None, str]]] = {}
    for code, year, rank, name in dti.select("code", "year", "rank", "unit_name").iter_rows():
        by_code.setdefault(code, []).append((year, rank, name))
    series = []
    for code in sorted(by_code):
        rows = sorted(by_code[code], key=lambda r: r[0])
        pts = {col[y]: r for y, r, _n in rows if r is not None}
        if pts:
            series.append(RankSeries(code, rows[-1][2], pts,
                                     "merged" if code in merged else "unchanged"))
    gaps = dti.filter(pl.col("rank").is_null() & pl.col("value").is_not_null()).sort("year", "code")
    lane = [(col[y], c, n) for y, c, n in gaps.select("year", "code", "unit_name").iter_rows()]
    counts = [labels["no_rank"].format(n=dti.filter((pl.col("year") == y) & pl.col("rank").is_null()).height)
              for y in years]
    return bump_svg([str(y) for y in years], series, n_units, labels, prefix="bump", lane=lane,
                    counts=counts, title=labels["bump_title"])


@dataclass
class MergerData:
    """What the chart across the merger draws (built by :func:`merger_data`)."""
    columns: list[str]  # old-basis columns, then the one new-basis column
    old: list[RankSeries]
    new: list[RankSeries]  # points at the new-basis column index only
    links: list[tuple[str, str]]  # (old code, new code) where both have a point
    n_old: int
    n_new: int


def merger_svg(data: MergerData, labels: dict[str, str]) -> str:
    """Published ranks on the old basis, year by year, then the successors' first new-basis
    ranks: each predecessor's line continues as a dashed connector into its successor."""
    n_cols = len(data.columns)
    old_cols = n_cols - 1
    texts = [f"{s.name} {s.points[max(s.points)]}" for s in data.old if s.points]
    spacing = _label_spacing(texts)
    left, top = 46, 30
    xs = _columns_x(left + 14, old_cols, spacing)
    band0 = (xs[-1] if xs else left) + spacing - 6
    x_new = band0 + 70
    new_texts = [f"{s.name} {s.points[old_cols]}" for s in data.new]
    width = x_new + max((text_width(t) for t in new_texts), default=60) + 24
    xs.append(x_new)
    n = max(data.n_old, data.n_new)
    ry = {r: top + (r - 1) * PITCH for r in range(1, n + 1)}
    bottom = ry[n] + 1.2 * PITCH
    height = bottom + 10
    body = [f'<rect class="merger-band" x="{_f(band0)}" y="{_f(top - 8)}" width="{_f(x_new - band0 - 14)}" '
            f'height="{_f(ry[n] - top + 16)}" fill="#f4f1ea"/>']
    for r in _rank_ticks(n):
        body.append(f'<path d="M{_f(left)} {_f(ry[r])}H{_f(xs[-2] + 8)}" stroke="#eee"/>'
                    f'<text class="axis" x="{_f(left - 6)}" y="{_f(ry[r])}" text-anchor="end" '
                    f'dominant-baseline="central">{r}</text>')
    for k, (x, head) in enumerate(zip(xs, data.columns, strict=True)):
        last = ry[data.n_new] if k == old_cols else ry[data.n_old]
        body.append(f'<path d="M{_f(x)} {_f(top - 6)}V{_f(last + 6)}" stroke="#ddd"/>'
                    + _col_head(x, top, head))
    body.append(f'<text class="note" x="{_f((band0 + x_new - 14) / 2)}" y="{_f(bottom)}" '
                f'text-anchor="middle" dominant-baseline="central">{_e(labels["merger_band"])}</text>')
    order = sorted(data.old, key=lambda s: min((r, c) for c, r in s.points.items()))
    styled = {s.code: style(i) for i, s in enumerate(order)}
    last_pt: dict[str, tuple[float, float]] = {}
    cols_labels: dict[int, list[Label]] = {}
    for s in data.old:
        cs = sorted(s.points)
        pts = [(xs[c], ry[s.points[c]]) for c in cs]
        gaps = [False] + [b - a > 1 for a, b in itertools.pairwise(cs)]
        hist = ", ".join(f"{data.columns[c]}: {s.points[c]}" for c in cs)
        body.append(_series_svg(f"rank63-{s.code}", pts, gaps, styled[s.code], f"{s.name} — {hist}"))
        last_pt[s.code] = pts[-1]
        cols_labels.setdefault(cs[-1], []).append(Label(
            pts[-1][0] + 8, pts[-1][1], f"{s.name} {s.points[cs[-1]]}", point=pts[-1]))
    new_pt = {s.code: (x_new, ry[s.points[old_cols]]) for s in data.new}
    names_new = {s.code: s.name for s in data.new}
    names_old = {s.code: s.name for s in data.old}
    body.append('<g class="merger-links">')
    for a, b in data.links:
        (x0, y0), (x1, y1) = last_pt[a], new_pt[b]
        st = styled[a]
        body.append(f'<path class="merger-link" data-from="{a}" data-to="{b}" d="M{_f(x0)} {_f(y0)}'
                    f'C{_f((x0 + x1) / 2)} {_f(y0)} {_f((x0 + x1) / 2)} {_f(y1)} {_f(x1)} {_f(y1)}" '
                    f'fill="none" stroke="{st.color}" stroke-width="1.2" stroke-dasharray="4 3">'
                    f"<title>{_e(names_old[a])} → {_e(names_new[b])}</title></path>")
    body.append("</g>")
    for s in data.new:
        x, y = new_pt[s.code]
        body.append(f'<g class="successor" id="rank34-{s.code}"><title>{_e(s.name)}: '
                    f'{s.points[old_cols]}</title>'
                    f'{marker_svg("square" if s.kind == "merged" else "circle", x, y, "#111", r=4.2)}</g>')
        cols_labels.setdefault(old_cols, []).append(Label(x + 9, y, f"{s.name} {s.points[old_cols]}",
                                                          point=(x, y)))
    for c in sorted(cols_labels):
        place_column(cols_labels[c], top - 4, bottom - PITCH)
        body.append(labels_svg(cols_labels[c]))
    return _svg(width, height, labels["merger_title"], "".join(body))


def merger_data(scores: pl.DataFrame, dti34: pl.DataFrame, mappings: MappingSet, old_basis: str,
                new_basis: str, labels: dict[str, str]) -> MergerData | None:
    """The old-basis ranks (published, or computed where a year's values are complete) and
    the successors' ranks in the first new-basis year that has them.

    The new-basis year is the first year with a value or rank published on the new basis
    (the shipped record: 2024); without one, the last year with ranks on the new basis.
    Returns None when there are no old-basis ranks to draw.
    """
    old_units = mappings.bases[old_basis].units.select("code", "name")
    n_old = old_units.height
    names = dict(old_units.iter_rows())
    s = scores.filter((pl.col("basis") == old_basis) & (pl.col("indicator") == "dti"))
    full = (s.filter(pl.col("value").is_not_null()).group_by("year").len()
            .filter(pl.col("len") == n_old)["year"].to_list())
    s = s.with_columns(rank=pl.when(pl.col("rank").is_null() & pl.col("year").is_in(full))
                       .then(competition_rank("value").over("year")).otherwise(pl.col("rank")))
    ranked = s.filter(pl.col("rank").is_not_null())
    ranked34 = dti34.filter(pl.col("rank").is_not_null())
    if ranked.is_empty() or ranked34.is_empty():
        return None
    pub_new = scores.filter((pl.col("basis") == new_basis) & (pl.col("indicator") == "dti")
                            & (pl.col("value").is_not_null() | pl.col("rank").is_not_null()))
    new_year = (int(cast(int, pub_new["year"].min())) if pub_new.height
                else int(cast(int, ranked34["year"].max())))
    if ranked34.filter(pl.col("year") == new_year).is_empty():
        new_year = int(cast(int, ranked34["year"].max()))
    years = sorted(y for y in ranked["year"].unique().to_list() if y <= new_year)
    if not years:
        return None
    col = {y: k for k, y in enumerate(years)}
    by_code: dict[str, list[tuple[int, int]]] = {}  # each code's ranks, in the scores' order
    for code, y, r in ranked.select("code", "year", "rank").iter_rows():
        by_code.setdefault(code, []).append((y, r))
    old = []
    for code in sorted(by_code):
        pts = {col[y]: r for y, r in by_code[code] if y in col}
        if pts:
            old.append(RankSeries(code, names.get(code, code), pts))
    merged = {c for c, n in dti34.select("code", "predecessors_expected").unique().iter_rows() if n > 1}
    new = [RankSeries(c, n, {len(years): r}, "merged" if c in merged else "unchanged")
           for c, n, r in ranked34.filter(pl.col("year") == new_year).sort("code")
           .select("code", "unit_name", "rank").iter_rows()]
    transition = mappings.composed(old_basis, new_basis)
    edges = transition.edges.select("from_code", "to_code").iter_rows()
    have_old = {s.code for s in old}
    have_new = {s.code for s in new}
    links = sorted((a, b) for a, b in edges if a in have_old and b in have_new)
    cols = [labels["col_old"].format(y=y) for y in years] + [labels["col_new"].format(y=new_year)]
    return MergerData(cols, old, new, links, n_old, dti34["code"].n_unique())


def merger_chart(scores: pl.DataFrame, dti34: pl.DataFrame, mappings: MappingSet, old_basis: str,
                 new_basis: str, labels: dict[str, str]) -> str:
    """The chart across the merger (:func:`merger_svg`), or a message saying why there is none."""
    data = merger_data(scores, dti34, mappings, old_basis, new_basis, labels)
    if data is None:
        return _message_svg(labels["merger_empty"], labels["merger_title"])
    return merger_svg(data, labels)


def _message_svg(message: str, title: str) -> str:
    width = max(360, text_width(message, 12) + 20)
    return _svg(width, 40, title, f'<text class="note" x="10" y="20" font-size="12" '
                f'dominant-baseline="central">{_e(message)}</text>', cls="chart message")


def slope_years(dti: pl.DataFrame) -> tuple[int, int] | None:
    """The last year with values, and the latest earlier year sharing a valued unit with it."""
    valued = dti.filter(pl.col("value").is_not_null())
    years = sorted(valued["year"].unique().to_list())
    if len(years) < 2:
        return None
    for b in reversed(years):
        in_b = set(valued.filter(pl.col("year") == b)["code"])
        for a in reversed([y for y in years if y < b]):
            if in_b & set(valued.filter(pl.col("year") == a)["code"]):
                return a, b
    return None


def slope_chart(dti: pl.DataFrame, merged: set[str], labels: dict[str, str],
                years: tuple[int, int] | None = None) -> str:
    """Values in two years (from the data: see :func:`slope_years`), one line per unit with a
    value in both; the value at each end, the unit's name and the change on the right."""
    years = years or slope_years(dti)
    if years is None:
        return _message_svg(labels["slope_none"], labels["slope_title"].format(a="", b=""))
    a, b = years
    title = labels["slope_title"].format(a=a, b=b)
    va = dict(dti.filter((pl.col("year") == a) & pl.col("value").is_not_null())
              .select("code", "value").iter_rows())
    rows = (dti.filter((pl.col("year") == b) & pl.col("value").is_not_null()
                       & pl.col("code").is_in(list(va))).sort("code")
            .select("code", "unit_name", "value").rows())
    if not rows:
        return _message_svg(labels["slope_empty"].format(a=a, b=b), title)
    lo = min(min(va[c] for c, _n, _v in rows), min(v for _c, _n, v in rows))
    hi = max(max(va[c] for c, _n, _v in rows), max(v for _c, _n, v in rows))
    span = max(hi - lo, 0.01)
    plot_h = max(180, len(rows) * PITCH * 1.2)
    top, x_a = 34, 110
    x_b = x_a + 220
    right = [f"{n} {fmt4(vb)} ({fmt4(vb - va[c], True)})" for c, n, vb in rows]
    width = x_b + 10 + max(text_width(t) for t in right) + 16
    height = top + plot_h + 24

    def y(v: float) -> float:
        return top + (hi - v) / span * plot_h

    body = []
    for x, yr in ((x_a, a), (x_b, b)):
        body.append(f'<path d="M{_f(x)} {_f(top - 6)}V{_f(top + plot_h + 6)}" stroke="#ccc"/>'
                    f'<text class="axis col" x="{_f(x)}" y="{_f(top - 18)}" text-anchor="middle">{yr}</text>')
    order = sorted(rows, key=lambda r: (-r[2], r[0]))
    left_l, right_l = [], []
    for i, (code, name, vb) in enumerate(order):
        st = style(i, "square" if code in merged else "circle")
        p0, p1 = (x_a, y(va[code])), (x_b, y(vb))
        body.append(_series_svg(f"slope-{code}", [p0, p1], [False, False], st,
                                f"{name}: {a} {fmt4(va[code])} → {b} {fmt4(vb)}"))
        left_l.append(Label(x_a - 9, p0[1], fmt4(va[code]), anchor="end", point=p0))
        right_l.append(Label(x_b + 9, p1[1], f"{name} {fmt4(vb)} ({fmt4(vb - va[code], True)})", point=p1))
    for col in (left_l, right_l):
        place_column(col, top - 8, top + plot_h + 20)
        body.append(labels_svg(col))
    return _svg(width, height, title, "".join(body))
