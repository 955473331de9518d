"""The report: one self-contained HTML page (no network, no external files) for readers.

Vietnamese by default, English with ``lang="en"``; every word the report itself writes is in
both languages (:data:`LABELS`). Sections, each a ``<section>``: what was computed and from
what; the coverage map (what the public record holds, unit by unit and year by year); ranks
on both bases (the published 63-unit ranks continuing across the merger, and the 34-unit
ranks); the change between the last two years with values; the audit of published merged
values (independent matches first, then circular ones, then what could be verified if the
predecessors' values were published); the press claims about rank changes (from the
``rank-change-claims`` check rows); the sortable DTI table; the checks; the provenance.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

import polars as pl

from mergetool.dti.checks import CHECKS, carried_keys
from mergetool.dti.comparable import BuildResult
from mergetool.dti.coverage import RANK_NOTES, coverage_frame
from mergetool.dti.verify import TOLERANCE, recompute_published
from mergetool.outputs.charts import bump_chart, fmt4, merger_chart, slope_chart, slope_years

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Chỉ số chuyển đổi số cấp tỉnh (DTI) {a}–{b} trên cơ sở 34 đơn vị",
        "summary": "Tóm tắt", "coverage": "Dữ liệu công khai có gì: bản đồ độ phủ",
        "ranks": "Thứ hạng trên từng cơ sở", "slope": "Thay đổi {a} → {b}", "slope_h": "Thay đổi giá trị",
        "table": "Bảng so sánh (DTI)", "checks": "Kiểm tra tính so sánh được",
        "audit": "Kiểm chứng giá trị sáp nhập", "claims": "Các nhận định trên báo chí về thứ hạng",
        "provenance": "Nguồn gốc dữ liệu",
        "rank": "Thứ hạng (1 = cao nhất)", "value": "Giá trị DTI", "lane": "không có hạng",
        "no_rank": "{n} không có hạng",
        "bump_title": "Thứ hạng DTI trên cơ sở 34 đơn vị, theo năm",
        "bump_caption": ("Thứ hạng trên cơ sở 34 đơn vị (sau sáp nhập). Ô vuông: đơn vị sáp nhập; "
                         "chấm tròn: đơn vị giữ nguyên; màu và kiểu nét phân biệt từng đơn vị. Vòng "
                         "rỗng ở hàng dưới cùng: đơn vị có giá trị nhưng không có hạng so sánh được."),
        "merger_title": "Thứ hạng DTI công bố trên cơ sở 63 đơn vị, qua sáp nhập sang 34 đơn vị",
        "merger_caption": ("Mỗi đường là một tỉnh cũ (cơ sở 63 đơn vị) qua các năm có thứ hạng công bố "
                           "(đoạn mờ: năm không có thứ hạng). Đường đứt nối thứ hạng cuối cùng của "
                           "tỉnh cũ với thứ hạng của đơn vị kế thừa trên cơ sở 34 đơn vị (ô đen): "
                           "chỗ các đường gặp nhau là sáp nhập. Màu, kiểu nét và hình điểm cùng "
                           "nhau phân biệt từng tỉnh (10 màu × 4 kiểu nét × 4 hình)."),
        "merger_band": "sáp nhập 1/7/2025", "col_old": "{y} (63)", "col_new": "{y} (34)",
        "merger_empty": ("Không có gì để vẽ: cần thứ hạng trên cơ sở 63 đơn vị (công bố, hoặc tính từ đủ "
                         "63 giá trị) và thứ hạng trên cơ sở 34 đơn vị."),
        "slope_title": "Giá trị DTI {a} → {b} trên cơ sở 34 đơn vị",
        "slope_caption": ("Đơn vị có giá trị trong cả {a} và {b} (hai năm gần nhất có giá trị chung). "
                          "Bên phải: giá trị {b} và mức thay đổi. Ô vuông: đơn vị sáp nhập."),
        "slope_empty": ("Không có đơn vị nào có giá trị so sánh được cho cả {a} và {b} "
                        "trong dữ liệu công khai."),
        "slope_none": "Không có hai năm nào có giá trị chung cho cùng một đơn vị.",
        "partial": "Dữ liệu DTI công khai không đầy đủ: các ô trống là chưa biết, không được ước tính.",
        "unit": "Đơn vị", "code": "Mã", "kind": "Loại", "status": "Trạng thái", "change": "Đổi hạng",
        "kind_merged": "sáp nhập", "kind_unchanged": "giữ nguyên", "check": "Kiểm tra",
        "years": "Năm", "indicator": "Chỉ số", "verdict": "Kết luận", "details": "Chi tiết",
        "details_note": "Cột Chi tiết giữ nguyên văn checks.csv (tiếng Anh, để đối chiếu).",
        "sort_hint": "Bấm vào tiêu đề cột để sắp xếp.",
        "scroll_hint": "Biểu đồ mở ở các năm gần nhất; các năm trước ở bên trái (cuộn ngang).",
        "with_value": "đơn vị có giá trị", "ranked": "có hạng",
        "vb_published-34": "công bố (34)", "vb_rebased-from-63": "tính lại từ 63",
        "vb_published-63": "công bố (63)", "vb_carried-from-34": "chép từ bảng 34",
        "st_ok": "có giá trị", "st_incomplete": "thiếu dữ liệu", "st_not-comparable": "không so sánh được",
        "v_pass": "đạt", "v_fail": "không đạt", "v_warn": "cảnh báo", "v_cannot-check": "không kiểm tra được",
        "about": "{src} → {dst}; bộ ánh xạ {id} {version}; phương pháp {methods}; mergetool {tool}",
        "cov_intro": ("Mỗi hàng đậm là một đơn vị trên cơ sở 34 đơn vị (giá trị và thứ hạng trong bảng "
                      "so sánh); các hàng thụt vào dưới nó là các tỉnh cũ (cơ sở 63 đơn vị) đã hợp "
                      "thành đơn vị đó, với những gì dữ liệu công khai ghi nhận. {n_new} đơn vị, "
                      "{n_old} tỉnh cũ."),
        "cov_value+rank": "giá trị và hạng", "cov_rank only": "chỉ có hạng",
        "cov_value only": "chỉ có giá trị", "cov_none": "không có gì",
        "cov_rebased": "R = tính lại từ giá trị của mọi tỉnh cũ", "cov_carried": "C = chép từ bảng 34 đơn vị",
        "cov_counts": "{y}: cơ sở 34 — {new}; cơ sở 63 — {old}",
        "rn_list_order": "L = vị trí trong danh sách top công bố (không in số hạng)",
        "rn_derived_change": "D = suy ra từ hạng năm liền kề và mức tăng/giảm bậc đã công bố",
        "rn_published_basis_unstated": "U = nguồn không nói hạng trên 34 hay 63 đơn vị",
        "rn_bottom3_unordered": "cuối 3 = nằm trong ba đơn vị cuối, không rõ thứ tự",
        "rn_provisional": "P = hạng tạm thời theo nguồn (chưa phải bảng chính thức)",
        "rn_conflict": "X = các nguồn ghi hạng khác nhau; giữ nguyên mâu thuẫn, không chọn",
        "bottom3": "cuối 3",
        "basis34": "34 đơn vị", "basis63": "63 đơn vị",
        "audit_independent": "Khớp độc lập", "audit_mismatch": "Không khớp",
        "audit_circular": "Khớp vòng (không phải bằng chứng độc lập)",
        "audit_missing": "Có thể kiểm chứng nếu giá trị của các tỉnh cũ được công bố",
        "audit_none": "không có",
        "audit_intro": ("Giá trị công bố trên cơ sở 34 đơn vị được tính lại độc lập bằng trung bình cộng "
                        "giá trị của các tỉnh cũ (sai số làm tròn cho phép {tol})."),
        "audit_nothing": "Không có giá trị nào được công bố trên cơ sở 34 đơn vị: không có gì để kiểm chứng.",
        "audit_match_line": ("{unit} {year} ({ind}): công bố {pub} = trung bình cộng của {inputs} = {rec} "
                             "(chênh lệch {diff})"),
        "audit_circular_line": ("{unit} {year} ({ind}): công bố {pub} = {rec}, nhưng {carried} trên cơ sở "
                                "63 đơn vị được chép từ chính bảng công bố, nên khớp là hiển nhiên"),
        "audit_missing_line": ("{unit} {year} ({ind}): công bố {pub}; cần giá trị {year} trên cơ sở 63 đơn "
                               "vị của {missing}{known}"),
        "audit_known": "; đã có: {have}",
        "audit_details": "Chi tiết từng dòng kiểm tra published-vs-recomputed",
        "claims_intro": ("Mỗi nhận định về thay đổi thứ hạng đã đăng báo, đối chiếu với dữ liệu: xác nhận, "
                         "bị bác bỏ, tạm thời/chưa chắc chắn, hoặc không thể kết luận (kèm dữ liệu cần có)."),
        "claims_none": "Không có nhận định báo chí nào được đánh giá trong lần chạy này.",
        "claims_note": ("Nhận định được trích nguyên văn trong ngoặc kép; phần đánh giá và dữ liệu cần có "
                        "là nguyên văn checks.csv (tiếng Anh)."),
        "c_pass": "xác nhận", "c_fail": "bị bác bỏ", "c_warn": "tạm thời / chưa chắc chắn",
        "c_cannot-check": "không thể kết luận",
        "claim": "Nhận định, đánh giá và nguồn",
        "chk_same-unit-set": "cùng tập đơn vị", "chk_complete-coverage": "đủ dữ liệu",
        "chk_one-aggregation-method": "cùng phương pháp gộp", "chk_value-range": "giá trị trong [0, 1]",
        "chk_methodology-change": "thay đổi phương pháp", "chk_rank-rounding": "thứ hạng phụ thuộc làm tròn",
        "chk_aggregate-comparability": "số trung bình so sánh được",
        "chk_published-vs-recomputed": "giá trị công bố so với tính lại",
        "chk_published-ranks": "thứ hạng công bố", "chk_rank-order-consistency": "thứ tự hạng nhất quán",
        "chk_rank-change-claims": "nhận định về đổi hạng",
    },
    "en": {
        "title": "Provincial Digital Transformation Index (DTI) {a}–{b} on the 34-unit basis",
        "summary": "Summary", "coverage": "What the public record holds: coverage map",
        "ranks": "Ranks on each basis", "slope": "Change {a} → {b}", "slope_h": "Change in value",
        "table": "Comparable table (DTI)", "checks": "Comparability checks",
        "audit": "Verifying merged values", "claims": "Press claims about ranks",
        "provenance": "Provenance",
        "rank": "Rank (1 = best)", "value": "DTI value", "lane": "no rank",
        "no_rank": "{n} without rank",
        "bump_title": "DTI ranks on the 34-unit basis, by year",
        "bump_caption": ("Ranks on the 34-unit basis (after the merger). Squares: merged units; circles: "
                         "unchanged units; colour and dash tell the units apart. Hollow rings in the "
                         "bottom lane: units with a value but no comparable rank."),
        "merger_title": "Published DTI ranks on the 63-unit basis, across the merger to 34 units",
        "merger_caption": ("Each line is a former province (63-unit basis) through the years with a "
                           "published rank (faint segment: a year without one). A dashed connector joins "
                           "a former province's last rank to its successor's rank on the 34-unit basis "
                           "(black marker): where lines meet is the merger. Colour, dash and marker "
                           "together identify a province (10 colours × 4 dashes × 4 markers)."),
        "merger_band": "merger 1 July 2025", "col_old": "{y} (63)", "col_new": "{y} (34)",
        "merger_empty": ("Nothing to draw: this needs ranks on the 63-unit basis (published, or computed "
                         "from all 63 values) and ranks on the 34-unit basis."),
        "slope_title": "DTI value {a} → {b} on the 34-unit basis",
        "slope_caption": ("Units with a value in both {a} and {b} (the latest two years with values in "
                          "common). Right: the {b} value and the change. Squares: merged units."),
        "slope_empty": "No unit has a comparable value in both {a} and {b} in the public record.",
        "slope_none": "No two years have a value for the same unit.",
        "partial": "The public DTI record is partial: empty cells are unknown, never estimated.",
        "unit": "Unit", "code": "Code", "kind": "Kind", "status": "Status", "change": "Rank change",
        "kind_merged": "merged", "kind_unchanged": "unchanged", "check": "Check",
        "years": "Years", "indicator": "Indicator", "verdict": "Verdict", "details": "Details",
        "details_note": "The Details column is checks.csv verbatim.",
        "sort_hint": "Click a column heading to sort.",
        "scroll_hint": "Charts open at the latest years; earlier years are to the left (scroll sideways).",
        "with_value": "units with a value", "ranked": "ranked",
        "vb_published-34": "published (34)", "vb_rebased-from-63": "rebased from 63",
        "vb_published-63": "published (63)", "vb_carried-from-34": "carried from the 34 table",
        "st_ok": "ok", "st_incomplete": "incomplete", "st_not-comparable": "not comparable",
        "v_pass": "pass", "v_fail": "fail", "v_warn": "warn", "v_cannot-check": "cannot check",
        "about": "{src} → {dst}; mapping {id} {version}; method {methods}; mergetool {tool}",
        "cov_intro": ("Each bold row is a unit of the 34-unit basis (value and rank in the comparable "
                      "table); the indented rows under it are the former provinces (63-unit basis) it "
                      "was formed from, with what the public record holds for them. {n_new} units, "
                      "{n_old} former provinces."),
        "cov_value+rank": "value and rank", "cov_rank only": "rank only",
        "cov_value only": "value only", "cov_none": "nothing",
        "cov_rebased": "R = rebased from every former province's value",
        "cov_carried": "C = carried over from the 34-unit table",
        "cov_counts": "{y}: 34-unit basis — {new}; 63-unit basis — {old}",
        "rn_list_order": "L = position in a published top list (no rank number printed)",
        "rn_derived_change": "D = derived from an adjacent year's rank and a published change in places",
        "rn_published_basis_unstated": "U = the source does not say whether the rank is of 34 or 63 units",
        "rn_bottom3_unordered": "bottom 3 = among the last three, order not published",
        "rn_provisional": "P = provisional per its source (not the final table)",
        "rn_conflict": "X = sources disagree on this rank; the conflict is kept, not resolved",
        "bottom3": "bottom 3",
        "basis34": "34 units", "basis63": "63 units",
        "audit_independent": "Independent matches", "audit_mismatch": "Mismatches",
        "audit_circular": "Circular matches (not independent evidence)",
        "audit_missing": "Verifiable if the former provinces' values were published",
        "audit_none": "none",
        "audit_intro": ("Values published on the 34-unit basis, recomputed independently as the mean of "
                        "the former provinces' values (rounding tolerance {tol})."),
        "audit_nothing": "No value is published on the 34-unit basis: nothing to verify.",
        "audit_match_line": ("{unit} {year} ({ind}): published {pub} = mean of {inputs} = {rec} "
                             "(difference {diff})"),
        "audit_circular_line": ("{unit} {year} ({ind}): published {pub} = {rec}, but {carried} on the "
                                "63-unit basis was carried from the published table itself, so the match "
                                "is bound to hold"),
        "audit_missing_line": ("{unit} {year} ({ind}): published {pub}; needs the {year} 63-unit values "
                               "of {missing}{known}"),
        "audit_known": "; known: {have}",
        "audit_details": "Every published-vs-recomputed check row",
        "claims_intro": ("Each published claim about a rank change, against the record: confirmed, "
                         "contradicted, provisional or uncertain, or cannot tell (with the data that "
                         "would settle it)."),
        "claims_none": "No press claims were evaluated in this run.",
        "claims_note": "Claims are quoted verbatim; the assessment is checks.csv verbatim.",
        "c_pass": "confirmed", "c_fail": "contradicted", "c_warn": "provisional / uncertain",
        "c_cannot-check": "cannot tell",
        "claim": "Claim, assessment and source",
        "chk_same-unit-set": "same set of units", "chk_complete-coverage": "complete coverage",
        "chk_one-aggregation-method": "one aggregation method", "chk_value-range": "values in [0, 1]",
        "chk_methodology-change": "methodology change", "chk_rank-rounding": "ranks depend on rounding",
        "chk_aggregate-comparability": "comparable averages",
        "chk_published-vs-recomputed": "published vs recomputed",
        "chk_published-ranks": "published ranks", "chk_rank-order-consistency": "rank order consistency",
        "chk_rank-change-claims": "rank-change claims",
    },
}

#: The checks' one-line descriptions in Vietnamese (English: :data:`mergetool.dti.checks.CHECKS`).
CHECK_DESCRIPTIONS_VI: dict[str, str] = {
    "same-unit-set": "hai năm xếp hạng cùng một tập đơn vị (cả 34 đơn vị có giá trị)",
    "complete-coverage": "mọi đơn vị trong năm có giá trị (công bố, hoặc biết đủ giá trị các tỉnh cũ)",
    "one-aggregation-method": "giá trị sáp nhập của hai năm dùng cùng một phương pháp gộp",
    "value-range": "mọi giá trị nằm trong [0, 1], thang đo duy nhất của chỉ số",
    "methodology-change": "chỉ số có cùng cấu trúc (chỉ số thành phần, chỉ tiêu) trong hai năm",
    "rank-rounding": ("không thứ hạng nào phụ thuộc làm tròn (bằng nhau ở 4 chữ số, hoặc chênh "
                      "dưới 0.0001)"),
    "aggregate-comparability": ("số trung bình công bố là trung bình của 63 đơn vị hay của 34 đơn vị "
                                "sáp nhập"),
    "published-vs-recomputed": "giá trị sáp nhập công bố bằng trung bình cộng giá trị các tỉnh cũ",
    "published-ranks": "thứ hạng tính lại từ đủ giá trị bằng thứ hạng công bố",
    "rank-order-consistency": "khi biết cả giá trị và hạng công bố, giá trị cao hơn thì hạng cao hơn",
    "rank-change-claims": "nhận định đổi hạng đã đăng báo, đối chiếu với dữ liệu",
}

CLAIMS_CHECK = "rank-change-claims"

#: What the report says instead of ``partial`` when the shipped record was not used (another
#: mapping), and the merger band without the shipped merger's date.
NO_RECORD = {
    "vi": {"partial": ("Không dùng bộ dữ liệu DTI công khai đi kèm (của các tỉnh Việt Nam): mọi giá trị "
                       "lấy từ tệp đầu vào; ô trống là chưa biết, không bao giờ ước tính."),
           "merger_band": "sáp nhập"},
    "en": {"partial": ("The shipped public DTI record was not used (it is of Vietnam's provinces): every "
                       "value is from the input files; empty cells are unknown, never estimated."),
           "merger_band": "merger"},
}


def _sized(text: str, old: int, new: int) -> str:
    """``text`` with the shipped bases' sizes (63, 34) written as another mapping's."""
    swap = {"63": str(old), "34": str(new)}
    return re.sub(r"(?<![\d.])(63|34)(?![\d.])", lambda m: swap[m.group(1)], text)


def labels_for(lang: str, result: BuildResult) -> dict[str, str]:
    """The report's words (:data:`LABELS`) for one build: the sizes of its bases, its value
    labels (``vb_published-34`` ...), and on another mapping a note that the shipped record
    was not used and the dates of its own reforms. ``_lang`` names the language."""
    spec = result.spec
    t = dict(LABELS[lang])
    if (spec.source_size, spec.target_size) != (63, 34):
        t = {k: _sized(v, spec.source_size, spec.target_size) for k, v in t.items()}
        for shipped, mine in (("published-34", spec.published_target), ("rebased-from-63", spec.rebased),
                              ("published-63", spec.published_source), ("carried-from-34", spec.carried)):
            t[f"vb_{mine}"] = t.pop(f"vb_{shipped}")
    if not result.record_used:
        t.update(NO_RECORD[lang])
    if not spec.record:
        dates = [tr.meta.get("effective") for tr in result.mappings.path(spec.source, spec.target)]
        if all(dates):
            t["merger_band"] = f"{NO_RECORD[lang]['merger_band']} {', '.join(map(str, dates))}"
        else:
            t["merger_band"] = NO_RECORD[lang]["merger_band"]
    t["_lang"] = lang
    return t
VERDICT_ORDER = ("pass", "fail", "warn", "cannot-check")

_ASSETS = resources.files("mergetool") / "data"
CSS = (_ASSETS / "report.css").read_text(encoding="utf-8")
JS = (_ASSETS / "report.js").read_text(encoding="utf-8")


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(v: float | None, fmt: str = ".4f") -> str:
    if v is None:
        return "<td class='num'></td>"
    return f"<td class='num' data-v='{v}'>{fmt4(v) if fmt == '.4f' else format(v, fmt)}</td>"


def _tr(t: dict[str, str], prefix: str, key: str | None) -> str:
    """A translated code (status, verdict, basis), or the code itself if it has no label."""
    return "" if key is None else t.get(f"{prefix}{key}", key)


_URL = re.compile(r"https?://[^\s;,)\"'<>]+")


def _linked(text: str) -> str:
    """Escaped text with its http(s) addresses as links (a link loads nothing by itself)."""
    out, last = [], 0
    for m in _URL.finditer(text or ""):
        out.append(_e(text[last:m.start()]))
        out.append(f"<a href='{_e(m.group())}' rel='noreferrer'>{_e(m.group())}</a>")
        last = m.end()
    out.append(_e((text or "")[last:]))
    return "".join(out)


def _section(sid: str, title: str, body: str) -> str:
    return f"<section id='{sid}'><h2>{_e(title)}</h2>{body}</section>"


def render_report(result: BuildResult, manifest: dict[str, Any], lang: str = "vi",
                  coverage: pl.DataFrame | None = None) -> str:
    """The whole page as a string (deterministic for identical inputs); ``coverage``: the
    build's :func:`~mergetool.dti.coverage.coverage_frame`, if made already."""
    t = labels_for(lang, result)
    ms = result.mappings
    spec = result.spec
    dti = result.comparable.filter(pl.col("indicator") == "dti")
    years = sorted(dti["year"].unique().to_list())
    merged = {c for c, n in dti.select("code", "predecessors_expected").unique().iter_rows() if n > 1}
    title = t["title"].format(a=years[0], b=years[-1])
    parts = [f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1><p class='note'>{_e(t['partial'])}</p>"]
    nav = ["summary", "coverage", "ranks", "audit", "claims", "slope", "table", "checks", "provenance"]
    parts.append("<nav>" + " · ".join(
        f"<a href='#{s}'>{_e(t['slope_h'] if s == 'slope' else t[s])}</a>" for s in nav) + "</nav>")
    parts.append(_section("summary", t["summary"], _summary(result, dti, years, manifest, t)))
    parts.append(_section("coverage", t["coverage"], _coverage(
        result, t, coverage_frame(result) if coverage is None else coverage)))
    ranks = (f"<div class='charts'><figure id='merger-chart'><figcaption><strong>{_e(t['merger_title'])}"
             f"</strong><br>{_e(t['merger_caption'])}</figcaption>"
             f"<p class='hint'>{_e(t['scroll_hint'])}</p><div class='scroll'>"
             f"{merger_chart(result.scores, dti, ms, spec.source, spec.target, t)}</div></figure>"
             f"<figure id='bump-chart'><figcaption><strong>{_e(t['bump_title'])}</strong><br>"
             f"{_e(t['bump_caption'])}</figcaption>"
             f"<p class='hint'>{_e(t['scroll_hint'])}</p><div class='scroll'>{bump_chart(dti, merged, t)}"
             "</div></figure></div>")
    parts.append(_section("ranks", t["ranks"], ranks))
    parts.append(_section("audit", t["audit"], _audit(result, t)))
    parts.append(_section("claims", t["claims"], _claims(result, t)))
    sy = slope_years(dti)
    a, b = sy if sy else ("", "")
    slope = (f"<figure id='slope-chart'><figcaption><strong>{_e(t['slope_title'].format(a=a, b=b))}</strong>"
             f"<br>{_e(t['slope_caption'].format(a=a, b=b))}</figcaption>"
             f"<p class='hint'>{_e(t['scroll_hint'])}</p><div class='scroll'>"
             f"{slope_chart(dti, merged, t, sy)}</div></figure>")
    parts.append(_section("slope", t["slope"].format(a=a, b=b) if sy else t["slope_h"], slope))
    parts.append(_section("table", t["table"], _table(dti, years, merged, t)))
    parts.append(_section("checks", t["checks"], _checks(result, t)))
    parts.append(_section("provenance", t["provenance"], "<pre id='manifest'>"
                          f"{_e(json.dumps(manifest, indent=2, ensure_ascii=False))}</pre>"))
    parts.append(f"<script>{JS}</script></body></html>\n")
    return "".join(parts)


def _summary(result: BuildResult, dti: pl.DataFrame, years: list[int], manifest: dict[str, Any],
             t: dict[str, str]) -> str:
    ms = result.mappings
    spec = result.spec
    published, rebased = spec.published_target, spec.rebased
    out = [f"<div class='wrap'><table id='summary-table'><thead><tr><th>{_e(t['years'])}</th>"
           f"<th class='num'>{_e(t['with_value'])}</th><th class='num'>{_e(t['vb_' + published])}</th>"
           f"<th class='num'>{_e(t['vb_' + rebased])}</th><th class='num'>{_e(t['ranked'])}</th>"
           "</tr></thead><tbody>"]
    per_year = {y: rest for y, *rest in dti.group_by("year").agg(
        pl.col("value").is_not_null().sum(), pl.len(), (pl.col("value_basis") == published).sum(),
        (pl.col("value_basis") == rebased).sum().alias("rebased"),
        pl.col("rank").is_not_null().sum()).iter_rows()}
    for y in years:
        valued, n, pub, reb, ranked = per_year[y]
        out.append(f"<tr><td>{y}</td><td class='num'>{valued} / {n}</td>"
                   f"<td class='num'>{pub}</td><td class='num'>{reb}</td>"
                   f"<td class='num'>{ranked}</td></tr>")
    out.append("</tbody></table></div>")
    out.append("<p>" + _e(t["about"].format(src=spec.source, dst=spec.target, id=ms.id, version=ms.version,
                                            methods=json.dumps(result.methods),
                                            tool=manifest.get("tool_version"))) + "</p>")
    return "".join(out)


def _coverage(result: BuildResult, t: dict[str, str], cov: pl.DataFrame) -> str:
    years = sorted(cov["year"].unique().to_list())
    n_new = cov.filter(pl.col("role") == "successor")["code"].n_unique()
    n_old = cov.filter(pl.col("role") == "predecessor")["code"].n_unique()
    states = ("value+rank", "rank only", "value only", "none")
    out = [f"<p>{_e(t['cov_intro'].format(n_new=n_new, n_old=n_old))}</p><p class='legend'>"]
    out.extend(f"<span class='cov cov-{i}'>{_e(t['cov_' + s])}</span> " for i, s in enumerate(states))
    notes = [t["cov_rebased"], t["cov_carried"], *(t[f"rn_{n}"] for n in RANK_NOTES)]
    out.append(f"<span>{_e('; '.join(notes))}</span></p><ul class='cov-counts'>")
    rows = list(cov.iter_rows(named=True))
    counts: dict[tuple[int, str], dict[str, int]] = {}  # (year, role) -> state -> units
    groups: dict[tuple[str, str, str], list[dict]] = {}  # (successor, role, code) -> its rows
    for r in rows:
        per = counts.setdefault((r["year"], r["role"]), {})
        per[r["state"]] = per.get(r["state"], 0) + 1
        groups.setdefault((r["successor_code"], r["role"], r["code"]), []).append(r)

    def cnt(year: int, role: str) -> str:
        c = counts.get((year, role), {})
        return ", ".join(f"{c[s]} {t['cov_' + s]}" for s in states if c.get(s))

    for y in years:
        line = t["cov_counts"].format(y=y, new=cnt(y, "successor"), old=cnt(y, "predecessor"))
        out.append(f"<li>{_e(line)}</li>")
    out.append("</ul><div class='wrap tall'><table id='coverage-map'><thead><tr>"
               f"<th class='unit'>{_e(t['unit'])}</th>")
    out.extend(f"<th class='num'>{y}</th>" for y in years)
    out.append("</tr></thead><tbody>")
    idx = {s: i for i, s in enumerate(states)}
    for (succ, role, code), grp in groups.items():
        first = grp[0]
        cls = "cov-succ" if role == "successor" else "cov-pred"
        basis = t["basis34"] if role == "successor" else t["basis63"]
        out.append(f"<tr class='{cls}' data-successor='{succ}' data-basis='{first['basis']}' "
                   f"data-code='{code}' data-role='{role}'><td class='unit' title='{_e(basis)}'>"
                   f"<span class='code'>{code}</span> {_e(first['unit_name'])}</td>")
        for r in sorted(grp, key=lambda r: r["year"]):
            bits = []
            mark: str | None
            if r["value"] is not None:
                mark = {result.spec.rebased: "<sup>R</sup>", result.spec.carried: "<sup>C</sup>"}.get(
                    r["value_basis"] or "", "")
                bits.append(f"{fmt4(r['value'])}{mark}")
            mark = {"list_order": "L", "derived_change": "D", "published_basis_unstated": "U",
                    "provisional": "P", "conflict": "X"}.get(
                r["rank_basis"] or "")
            if r["rank"] is not None:
                bits.append(f"#{r['rank']}" + (f"<sup>{mark}</sup>" if mark else ""))
            elif r["rank_basis"] == "bottom3_unordered":
                bits.append(_e(t["bottom3"]))
            text = " ".join(bits) or "–"
            tip = f"{r['year']} · {basis} · {t['cov_' + r['state']]}"
            if r["value_basis"]:
                tip += f" · {_tr(t, 'vb_', r['value_basis'])}"
            if r["rank_basis"]:
                tip += f" · {t['rn_' + r['rank_basis']]}"
            out.append(f"<td class='num cov cov-{idx[r['state']]}' data-state='{r['state']}' "
                       f"title='{_e(tip)}'>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _audit(result: BuildResult, t: dict[str, str]) -> str:
    ms = result.mappings
    source, target = result.spec.source, result.spec.target
    scores = result.scores
    pub = scores.filter((pl.col("basis") == target) & pl.col("value").is_not_null())
    out = [f"<p>{_e(t['audit_intro'].format(tol=f'{fmt4(TOLERANCE)}'))}</p>"]
    if pub.is_empty():
        out.append(f"<p id='audit-nothing'>{_e(t['audit_nothing'])}</p>")
    else:
        carried = carried_keys(scores)
        rows = recompute_published(pub, scores.filter(pl.col("basis") == source), ms, source,
                                   target, carried=carried).rows
        rows = rows.filter(pl.col("published").is_not_null()).sort(
            pl.col("indicator") != "dti", "indicator", "year", "code")
        old_names = dict(ms.bases[source].units.select("code", "name").iter_rows())
        old_vals = {(y, i, c): v for y, i, c, v in scores.filter(
            (pl.col("basis") == source) & pl.col("value").is_not_null()).select(
            "year", "indicator", "code", "value").iter_rows()}
        preds = dict(ms.composed(source, target).predecessors().iter_rows())
        groups: dict[str, list[str]] = {"independent": [], "mismatch": [], "circular": [], "missing": []}
        for r in rows.iter_rows(named=True):
            year, ind, code = r["year"], r["indicator"], r["code"]
            have = [p for p in preds.get(code, []) if (year, ind, p) in old_vals]
            inputs = ", ".join(f"{fmt4(old_vals[(year, ind, p)])} ({old_names.get(p, p)})" for p in have)
            fields = {"unit": f"{code} {r['unit_name']}", "year": year, "ind": ind,
                      "pub": f"{fmt4(r['published'])}",
                      "rec": "" if r["recomputed"] is None else fmt4(r["recomputed"]),
                      "diff": "" if r["difference"] is None else fmt4(r["difference"], True),
                      "inputs": inputs}
            if r["verdict"] == "match":
                circ = [p for p in have if (year, source, p, ind) in carried]
                if circ:
                    fields["carried"] = ", ".join(f"{old_names.get(p, p)} {fmt4(old_vals[(year, ind, p)])}"
                                                  for p in circ)
                    groups["circular"].append(t["audit_circular_line"].format(**fields))
                else:
                    groups["independent"].append(t["audit_match_line"].format(**fields))
            elif r["verdict"] == "mismatch":
                groups["mismatch"].append(t["audit_match_line"].format(**fields))
            elif r["verdict"] == "not-computable":
                missing = [p for p in preds.get(code, []) if p not in have]
                known = t["audit_known"].format(have=inputs) if have else ""
                groups["missing"].append(t["audit_missing_line"].format(
                    **fields, missing=", ".join(f"{p} {old_names.get(p, p)}" for p in missing), known=known))
        for key in ("independent", "mismatch", "circular", "missing"):
            if key == "mismatch" and not groups[key]:
                continue
            items = ("".join(f"<li>{_e(line)}</li>" for line in groups[key])
                     or f"<li>{_e(t['audit_none'])}</li>")
            out.append(f"<h3 id='audit-{key}'>{_e(t['audit_' + key])} ({len(groups[key])})</h3>"
                       f"<ul class='audit-{key}'>{items}</ul>")
    audit = result.checks.filter(pl.col("check") == "published-vs-recomputed")
    out.append(f"<details><summary>{_e(t['audit_details'])}</summary><p>{_e(t['details_note'])}</p>"
               f"<div class='wrap'><table id='audit-table'><thead><tr><th>{_e(t['years'])}</th>"
               f"<th>{_e(t['indicator'])}</th><th>{_e(t['unit'])}</th><th>{_e(t['verdict'])}</th>"
               f"<th>{_e(t['details'])}</th></tr></thead><tbody>")
    for c in audit.iter_rows(named=True):
        out.append(f"<tr><td>{_e(c['years'])}</td><td>{_e(c['indicator'])}</td><td>{_e(c['unit'])}</td>"
                   f"<td class='verdict-{c['verdict']}'>{_e(_tr(t, 'v_', c['verdict']))}</td>"
                   f"<td class='details'>{_e(c['details'])}</td></tr>")
    out.append("</tbody></table></div></details>")
    return "".join(out)


def _claims(result: BuildResult, t: dict[str, str]) -> str:
    rows = result.checks.filter(pl.col("check") == CLAIMS_CHECK)
    if rows.is_empty():
        return f"<p id='claims-none'>{_e(t['claims_none'])}</p>"
    counts = dict(rows.group_by("verdict").len().iter_rows())
    out = [f"<p>{_e(t['claims_intro'])}</p><p class='legend'>"]
    out.extend(f"<span class='verdict-{v}'>{_e(t['c_' + v])}: {counts.get(v, 0)}</span> "
               for v in VERDICT_ORDER)
    out.append(f"</p><p>{_e(t['claims_note'])}</p><div class='wrap'><table id='claims-table'><thead><tr>"
               f"<th>{_e(t['years'])}</th><th>{_e(t['unit'])}</th><th>{_e(t['indicator'])}</th>"
               f"<th>{_e(t['verdict'])}</th><th>{_e(t['claim'])}</th></tr></thead><tbody>")
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    ranked = rows.with_columns(_o=pl.col("verdict").replace_strict(order, default=len(order)))
    for c in ranked.sort("_o", maintain_order=True).iter_rows(named=True):
        out.append(f"<tr class='claim' data-verdict='{_e(c['verdict'])}'><td>{_e(c['years'])}</td>"
                   f"<td>{_e(c['unit'])}</td><td>{_e(c['indicator'])}</td>"
                   f"<td class='verdict-{_e(c['verdict'])}'>{_e(_tr(t, 'c_', c['verdict']))}</td>"
                   f"<td class='details'>{_linked(c['details'])}</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _table(dti: pl.DataFrame, years: list[int], merged: set[str], t: dict[str, str]) -> str:
    out = [f"<p>{_e(t['sort_hint'])}</p><div class='wrap'><table class='sortable' id='comparable'><thead><tr>"
           f"<th>{_e(t['code'])}</th><th>{_e(t['unit'])}</th><th>{_e(t['kind'])}</th>"]
    for y in years:
        out.append(f"<th class='num'>{y}</th><th class='num'>#{y}</th>")
    out.append(f"<th class='num'>{_e(t['change'])} {years[-1]}</th><th>{_e(t['status'])} {years[-1]}</th>"
               "</tr></thead><tbody>")
    by_code: dict[str, dict[int, dict]] = {}  # code -> year -> row, in one pass over the table
    for r in dti.iter_rows(named=True):
        by_code.setdefault(r["code"], {})[r["year"]] = r
    for code in sorted(by_code):
        rows = by_code[code]
        last = rows[years[-1]]
        kind = t["kind_merged"] if code in merged else t["kind_unchanged"]
        out.append(f"<tr data-code='{code}'><td>{code}</td><td>{_e(last['unit_name'])}</td><td>{kind}</td>")
        for y in years:
            r = rows[y]
            out.append(_num(r["value"]) + _num(r["rank"], "d"))
        out.append(_num(last["rank_change"], "+d") + f"<td>{_e(_tr(t, 'st_', last['status']))}</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _checks(result: BuildResult, t: dict[str, str]) -> str:
    out = [f"<p>{_e(t['details_note'])}</p><div class='wrap'><table class='sortable' id='checks-table'>"
           f"<thead><tr><th>{_e(t['check'])}</th><th>{_e(t['years'])}</th><th>{_e(t['indicator'])}</th>"
           f"<th>{_e(t['unit'])}</th><th>{_e(t['verdict'])}</th><th>{_e(t['details'])}</th></tr></thead><tbody>"]
    for c in result.checks.filter(pl.col("indicator").is_in(["dti", ""])).iter_rows(named=True):
        desc = ((CHECK_DESCRIPTIONS_VI if t.get("_lang") == "vi" else {}).get(c["check"])
                or CHECKS.get(c["check"], ""))
        if (result.spec.source_size, result.spec.target_size) != (63, 34):
            desc = _sized(desc, result.spec.source_size, result.spec.target_size)
        out.append(f"<tr><td title='{_e(desc)}'>{_e(_tr(t, 'chk_', c['check']))}<br>"
                   f"<code>{_e(c['check'])}</code></td>"
                   f"<td>{_e(c['years'])}</td><td>{_e(c['indicator'])}</td><td>{_e(c['unit'])}</td>"
                   f"<td class='verdict-{c['verdict']}'>{_e(_tr(t, 'v_', c['verdict']))}</td>"
                   f"<td class='details'>{_linked(c['details'])}</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)
