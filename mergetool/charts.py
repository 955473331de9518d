"""Rank and value charts as inline SVG, drawn with matplotlib (no browser, no network).

matplotlib renders SVG offline and deterministically (fixed hash salt, no date), text
stays text (searchable, readable by screen readers), and every unit's line carries an
``id`` (``bump-48``, ``slope-48``) so a browser test can count what is drawn.
"""

from __future__ import annotations

import io

import polars as pl

MERGED_STYLE = {"linestyle": (0, (4, 2)), "marker": "s"}
UNCHANGED_STYLE = {"linestyle": "-", "marker": "o"}


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.rcParams.update({"svg.hashsalt": "mergetool", "svg.fonttype": "none",
                                "font.family": "DejaVu Sans", "font.size": 9})
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    return fig


def _svg(fig, title: str) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "mergetool",
                                              "Title": title}, bbox_inches="tight")
    text = buf.getvalue()
    start = text.index("<svg")
    svg = text[start:]
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" class="chart" ', 1)


def bump_chart(dti: pl.DataFrame, merged: set[str], labels: dict[str, str]) -> str:
    """Ranks by year, one line per unit with at least one rank; rank 1 at the top.

    Units with a value but no comparable rank in a year are drawn as hollow markers in a
    lane under the last rank, so incompleteness is visible rather than hidden.
    """
    years = sorted(dti["year"].unique().to_list())
    n_units = dti["code"].n_unique()
    fig = _figure(9, 7)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    ranked = dti.filter(pl.col("rank").is_not_null())
    lane = n_units + 2
    for i, (code, grp) in enumerate(ranked.group_by("code", maintain_order=True)):
        code = code[0]
        grp = grp.sort("year")
        style = MERGED_STYLE if code in merged else UNCHANGED_STYLE
        (line,) = ax.plot(grp["year"].to_list(), grp["rank"].to_list(), color=cmap(i % 20),
                          linewidth=1.6, markersize=5, **style)
        line.set_gid(f"bump-{code}")
        last = grp.tail(1)
        ax.annotate(f"{last['unit_name'][0]} ({last['rank'][0]})", (last["year"][0], last["rank"][0]),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
    gaps = dti.filter(pl.col("rank").is_null() & pl.col("value").is_not_null())
    if gaps.height:
        pts = ax.plot(gaps["year"].to_list(), [lane] * gaps.height, linestyle="none", marker="o",
                      markerfacecolor="none", markeredgecolor="#777", markersize=6)
        pts[0].set_gid("incomplete-points")
    for year in years:
        n_none = dti.filter((pl.col("year") == year) & pl.col("rank").is_null()).height
        ax.annotate(labels["no_rank"].format(n=n_none), (year, lane + 1.4), ha="center",
                    fontsize=7, color="#555")
    ax.set_ylim(lane + 2.5, 0.3)
    ax.set_yticks([1, 5, 10, 15, 20, 25, 30, n_units, lane])
    ax.set_yticklabels([*map(str, [1, 5, 10, 15, 20, 25, 30, n_units]), labels["lane"]])
    ax.set_xticks(years)
    ax.set_xlim(years[0] - 0.3, years[-1] + 0.9)
    ax.set_ylabel(labels["rank"])
    ax.grid(axis="y", color="#eee")
    ax.plot([], [], color="#333", label=labels["merged"], **MERGED_STYLE)
    ax.plot([], [], color="#333", label=labels["unchanged"], **UNCHANGED_STYLE)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, labels["bump_title"])


def slope_chart(dti: pl.DataFrame, merged: set[str], labels: dict[str, str],
                years: tuple[int, int] = (2023, 2024)) -> str:
    """Values in two years, one line per unit with a value in both."""
    a, b = years
    wide = (dti.filter(pl.col("year").is_in([a, b]) & pl.col("value").is_not_null())
            .pivot(on="year", index=["code", "unit_name"], values="value"))
    both = wide.drop_nulls() if {str(a), str(b)} <= set(wide.columns) else wide.clear()
    fig = _figure(7, 1.2 if both.is_empty() else 8)
    ax = fig.add_subplot()
    if both.is_empty():
        ax.text(0.5, 0.5, labels["slope_empty"].format(a=a, b=b), ha="center", va="center",
                wrap=True, fontsize=10, transform=ax.transAxes)
        ax.set_axis_off()
        return _svg(fig, labels["slope_title"].format(a=a, b=b))
    for code, name, va, vb in both.select("code", "unit_name", str(a), str(b)).iter_rows():
        style = MERGED_STYLE if code in merged else UNCHANGED_STYLE
        color = "#1f6f8b" if vb >= va else "#b8452b"
        (line,) = ax.plot([0, 1], [va, vb], color=color, linewidth=1.4, markersize=4, **style)
        line.set_gid(f"slope-{code}")
        ax.annotate(f"{name} {vb:.4f}", (1, vb), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=6)
    ax.set_xticks([0, 1])
    ax.set_xticklabels([str(a), str(b)])
    ax.set_xlim(-0.1, 1.5)
    ax.set_ylabel(labels["value"])
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, labels["slope_title"].format(a=a, b=b))
