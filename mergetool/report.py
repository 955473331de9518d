"""The report: one self-contained HTML page (no network, no external files) for readers.

Vietnamese by default, English with ``lang="en"``. Sections: what was computed and from
what; a bump chart of ranks; a slope chart 2023 -> 2024; the sortable DTI table; the
checks; the audit of published merged values; the provenance manifest.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

import polars as pl

from mergetool.charts import bump_chart, slope_chart
from mergetool.comparable import SOURCE_BASIS, TARGET_BASIS, BuildResult

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Chỉ số chuyển đổi số cấp tỉnh (DTI) 2020–2024 trên cơ sở 34 đơn vị",
        "summary": "Tóm tắt", "bump": "Thứ hạng qua các năm", "slope": "Thay đổi 2023 → 2024",
        "table": "Bảng so sánh (DTI)", "checks": "Kiểm tra tính so sánh được",
        "audit": "Kiểm toán giá trị sáp nhập", "provenance": "Nguồn gốc dữ liệu",
        "rank": "Thứ hạng (1 = cao nhất)", "value": "Giá trị DTI", "lane": "không có hạng",
        "no_rank": "{n} không có hạng", "merged": "đơn vị sáp nhập (nét đứt, ô vuông)",
        "unchanged": "đơn vị giữ nguyên (nét liền, chấm tròn)",
        "bump_title": "Thứ hạng DTI trên cơ sở 34 đơn vị, 2020–2024",
        "slope_title": "Giá trị DTI {a} → {b}",
        "slope_empty": ("Không có đơn vị nào có giá trị so sánh được cho cả {a} và {b} "
                        "trong dữ liệu công khai."),
        "partial": "Dữ liệu DTI công khai không đầy đủ: các ô trống là chưa biết, không được ước tính.",
        "unit": "Đơn vị", "code": "Mã", "kind": "Loại", "status": "Trạng thái", "change": "Đổi hạng",
        "kind_merged": "sáp nhập", "kind_unchanged": "giữ nguyên", "check": "Kiểm tra",
        "years": "Năm", "indicator": "Chỉ số", "verdict": "Kết luận", "details": "Chi tiết",
        "recomputed": "Tính lại", "published": "Công bố", "difference": "Chênh lệch",
        "sort_hint": "Bấm vào tiêu đề cột để sắp xếp.",
        "computed": "Đã tính", "with_value": "đơn vị có giá trị", "ranked": "có hạng",
    },
    "en": {
        "title": "Provincial Digital Transformation Index (DTI) 2020–2024 on the 34-unit basis",
        "summary": "Summary", "bump": "Ranks over the years", "slope": "Change 2023 → 2024",
        "table": "Comparable table (DTI)", "checks": "Comparability checks",
        "audit": "Audit of merged values", "provenance": "Provenance",
        "rank": "Rank (1 = best)", "value": "DTI value", "lane": "no rank",
        "no_rank": "{n} without rank", "merged": "merged unit (dashed, squares)",
        "unchanged": "unchanged unit (solid, circles)",
        "bump_title": "DTI ranks on the 34-unit basis, 2020–2024",
        "slope_title": "DTI value {a} → {b}",
        "slope_empty": "No unit has a comparable value in both {a} and {b} in the public record.",
        "partial": "The public DTI record is partial: empty cells are unknown, never estimated.",
        "unit": "Unit", "code": "Code", "kind": "Kind", "status": "Status", "change": "Rank change",
        "kind_merged": "merged", "kind_unchanged": "unchanged", "check": "Check",
        "years": "Years", "indicator": "Indicator", "verdict": "Verdict", "details": "Details",
        "recomputed": "Recomputed", "published": "Published", "difference": "Difference",
        "sort_hint": "Click a column heading to sort.",
        "computed": "Computed", "with_value": "units with a value", "ranked": "ranked",
    },
}

_ASSETS = resources.files("mergetool") / "data"
CSS = (_ASSETS / "report.css").read_text(encoding="utf-8")
JS = (_ASSETS / "report.js").read_text(encoding="utf-8")


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(v: float | None, fmt: str = ".4f") -> str:
    return ("<td class='num'></td>" if v is None else
            f"<td class='num' data-v='{v}'>{format(v, fmt)}</td>")


def render_report(result: BuildResult, manifest: dict[str, Any], lang: str = "vi") -> str:
    """The whole page as a string (deterministic for identical inputs)."""
    t = LABELS[lang]
    ms = result.mappings
    comp = result.comparable
    dti = comp.filter(pl.col("indicator") == "dti")
    years = sorted(dti["year"].unique().to_list())
    merged = {c for c, n in dti.select("code", "predecessors_expected").unique().iter_rows() if n > 1}
    parts = [f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(t['title'])}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(t['title'])}</h1><p class='note'>{_e(t['partial'])}</p>"]
    # summary
    parts.append(f"<h2 id='summary'>{_e(t['summary'])}</h2><div class='wrap'><table><thead><tr>"
                 f"<th>{_e(t['years'])}</th><th class='num'>{_e(t['with_value'])}</th>"
                 f"<th class='num'>published-34</th><th class='num'>rebased-from-63</th>"
                 f"<th class='num'>{_e(t['ranked'])}</th></tr></thead><tbody>")
    for y in years:
        d = dti.filter(pl.col("year") == y)
        parts.append(f"<tr><td>{y}</td><td class='num'>{d['value'].is_not_null().sum()} / {d.height}</td>"
                     f"<td class='num'>{(d['value_basis'] == 'published-34').sum()}</td>"
                     f"<td class='num'>{(d['value_basis'] == 'rebased-from-63').sum()}</td>"
                     f"<td class='num'>{d['rank'].is_not_null().sum()}</td></tr>")
    parts.append("</tbody></table></div>")
    parts.append(f"<p>{SOURCE_BASIS} → {TARGET_BASIS}; mapping {ms.id} {ms.version}; "
                 f"method {_e(json.dumps(result.methods))}; mergetool {manifest.get('tool_version')}</p>")
    # charts
    parts.append(f"<h2 id='bump'>{_e(t['bump'])}</h2><figure id='bump-chart'>"
                 f"{bump_chart(dti, merged, t)}</figure>")
    parts.append(f"<h2 id='slope'>{_e(t['slope'])}</h2><figure id='slope-chart'>"
                 f"{slope_chart(dti, merged, t)}</figure>")
    # table
    parts.append(f"<h2 id='table'>{_e(t['table'])}</h2><p>{_e(t['sort_hint'])}</p>"
                 "<div class='wrap'><table class='sortable' id='comparable'><thead><tr>"
                 f"<th>{_e(t['code'])}</th><th>{_e(t['unit'])}</th><th>{_e(t['kind'])}</th>")
    for y in years:
        parts.append(f"<th class='num'>{y}</th><th class='num'>#{y}</th>")
    parts.append(f"<th class='num'>{_e(t['change'])} {years[-1]}</th><th>{_e(t['status'])} {years[-1]}</th>"
                 "</tr></thead><tbody>")
    for code in sorted(dti["code"].unique().to_list()):
        rows = {r["year"]: r for r in dti.filter(pl.col("code") == code).iter_rows(named=True)}
        last = rows[years[-1]]
        kind = t["kind_merged"] if code in merged else t["kind_unchanged"]
        parts.append(f"<tr data-code='{code}'><td>{code}</td><td>{_e(last['unit_name'])}</td><td>{kind}</td>")
        for y in years:
            r = rows[y]
            parts.append(_num(r["value"]) + _num(r["rank"], "d"))
        parts.append(_num(last["rank_change"], "+d") + f"<td>{_e(last['status'])}</td></tr>")
    parts.append("</tbody></table></div>")
    # checks
    parts.append(f"<h2 id='checks'>{_e(t['checks'])}</h2><div class='wrap'><table class='sortable' "
                 f"id='checks-table'><thead><tr><th>{_e(t['check'])}</th><th>{_e(t['years'])}</th>"
                 f"<th>{_e(t['indicator'])}</th><th>{_e(t['unit'])}</th><th>{_e(t['verdict'])}</th>"
                 f"<th>{_e(t['details'])}</th></tr></thead><tbody>")
    for c in result.checks.filter(pl.col("indicator").is_in(["dti", ""])).iter_rows(named=True):
        parts.append(f"<tr><td>{_e(c['check'])}</td><td>{_e(c['years'])}</td><td>{_e(c['indicator'])}</td>"
                     f"<td>{_e(c['unit'])}</td><td class='verdict-{c['verdict']}'>{_e(c['verdict'])}</td>"
                     f"<td>{_e(c['details'])}</td></tr>")
    parts.append("</tbody></table></div>")
    # audit
    audit = result.checks.filter(pl.col("check") == "published-vs-recomputed")
    parts.append(f"<h2 id='audit'>{_e(t['audit'])}</h2><div class='wrap'><table id='audit-table'>"
                 f"<thead><tr><th>{_e(t['years'])}</th><th>{_e(t['indicator'])}</th><th>{_e(t['unit'])}</th>"
                 f"<th>{_e(t['verdict'])}</th><th>{_e(t['details'])}</th></tr></thead><tbody>")
    for c in audit.iter_rows(named=True):
        parts.append(f"<tr><td>{_e(c['years'])}</td><td>{_e(c['indicator'])}</td>"
                     f"<td>{_e(c['unit'])}</td><td class='verdict-{c['verdict']}'>{_e(c['verdict'])}</td>"
                     f"<td>{_e(c['details'])}</td></tr>")
    parts.append("</tbody></table></div>")
    # provenance
    parts.append(f"<h2 id='provenance'>{_e(t['provenance'])}</h2><pre id='manifest'>"
                 f"{_e(json.dumps(manifest, indent=2, ensure_ascii=False))}</pre>")
    parts.append(f"<script>{JS}</script></body></html>\n")
    return "".join(parts)
