"""The HTML report: self-contained, complete, and working in a real browser (headless Chromium)."""

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from mergetool.cli import cli
from mergetool.core.mapping import MappingSet
from mergetool.core.synth import synth_panel

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


@pytest.fixture(scope="module")
def shipped_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    r = CliRunner().invoke(cli, ["report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "report.html"


@pytest.fixture(scope="module")
def panel_report(tmp_path_factory, shipped: MappingSet) -> Path:
    out = tmp_path_factory.mktemp("panel")
    panel = pl.concat([synth_panel(shipped, "vn-province-2024", [y], ["dti"], seed=y)
                       for y in range(2020, 2025)])
    scores = out / "panel.csv"
    panel.select("year", unit="code", indicator="indicator", value="value").write_csv(scores)
    r = CliRunner().invoke(cli, ["report", "--scores", str(scores), "--basis", "vn-province-2024",
                                 "--replace", "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    return out / "report.html"


def test_report_is_self_contained(shipped_report: Path) -> None:
    text = shipped_report.read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", text)
    assert not re.search(r"url\((?!#)", text)  # only in-page references such as clip paths
    assert "@import" not in text
    assert 'lang="vi"' in text or "lang='vi'" in text


def test_report_shows_what_the_record_supports(shipped_report: Path) -> None:
    text = shipped_report.read_text(encoding="utf-8")
    assert len(re.findall(r"<tr data-code=", text)) == 34
    bump = set(re.findall(r'id="bump-(\d+)"', text))
    assert bump == {"01", "46", "31", "79", "38", "11", "42", "19", "15", "75", "56", "48", "04"}
    assert 'id="incomplete-points"' in text  # units with a value but no rank are drawn
    assert "0.7069" in text
    assert "mean(0.8335, 0.5803)" in text
    assert "không đầy đủ" in text  # says the record is partial


def test_report_is_deterministic(tmp_path: Path) -> None:
    for d in ("a", "b"):
        assert CliRunner().invoke(cli, ["report", "--out", str(tmp_path / d)]).exit_code == 0
    assert (tmp_path / "a" / "report.html").read_bytes() == (tmp_path / "b" / "report.html").read_bytes()


def test_complete_panel_draws_every_unit(panel_report: Path) -> None:
    text = panel_report.read_text(encoding="utf-8")
    assert len(set(re.findall(r'id="bump-(\d+)"', text))) == 34
    assert len(set(re.findall(r'id="slope-(\d+)"', text))) == 34
    assert "Ranks on each basis" in text


def _chromium(page: Path, *args: str, width: int = 1280, height: int = 2400):
    profile = page.parent / f"chromium-profile-{width}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
         "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)")


@needs_chromium
@pytest.mark.parametrize("which", ["shipped_report", "panel_report"])
def test_report_in_a_real_browser(which: str, request) -> None:
    page: Path = request.getfixturevalue(which)
    dom = _chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-ready="1"' in html  # the page's script ran to the end
    assert "data-js-errors" not in html
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "error" in line.lower() or "Uncaught" in line], console
    rows = re.findall(r'<tr data-code="(\d+)"', html)
    assert len(rows) == 34
    expected = 13 if which == "shipped_report" else 34
    assert len(set(re.findall(r'id="bump-(\d+)"', html))) == expected
    ARTIFACTS.mkdir(exist_ok=True)
    for width, name in ((1280, "desktop"), (390, "phone")):
        shot = ARTIFACTS / f"{which}-{name}.png"
        # headless Chromium lays out at least 500 px wide: a phone is a 390 px frame in a page
        target = page if width >= 500 else _phone_frame(page, width)
        r = _chromium(target, f"--screenshot={shot}", width=max(width, 500))
        assert r.returncode == 0, r.stderr[-2000:]
        assert shot.stat().st_size > 10_000


def _phone_frame(page: Path, width: int) -> Path:
    """A page showing ``page`` in a ``width``-px frame that reports the frame's layout widths."""
    frame = page.parent / f"phone-{width}.html"
    frame.write_text(
        "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block;"
        f"width:{width}px;height:2400px}}</style></head><body><iframe id='f' src='{page.name}'></iframe>"
        "<script>document.getElementById('f').addEventListener('load',function(){"
        "var d=this.contentDocument,e=d.documentElement,p=document.createElement('pre');p.id='phone';"
        "p.textContent=JSON.stringify({scroll:e.scrollWidth,client:e.clientWidth,"
        "ready:d.body.dataset.ready||''});document.body.appendChild(p);});</script></body></html>",
        encoding="utf-8")
    return frame


@needs_chromium
@pytest.mark.parametrize("which", ["shipped_report", "panel_report"])
def test_report_fits_a_phone(which: str, request) -> None:
    """At 360 px the page itself never scrolls sideways: wide tables and charts scroll in their boxes."""
    import json

    page: Path = request.getfixturevalue(which)
    dom = _chromium(_phone_frame(page, 360), "--allow-file-access-from-files", "--dump-dom", width=500)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="phone">(.*?)</pre>', dom.stdout)
    assert found, "the frame's page could not be measured"
    res = json.loads(found.group(1).replace("&quot;", '"'))
    assert res["ready"] == "1"
    assert 300 < res["client"] <= 360
    assert res["scroll"] <= res["client"], res


# --- charts: geometry computed in code -------------------------------------------------------

import itertools  # noqa: E402
from dataclasses import replace  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mergetool.dti.comparable import gather_scores  # noqa: E402
from mergetool.dti.coverage import coverage_frame, coverage_sheet  # noqa: E402
from mergetool.dti.pipeline import build  # noqa: E402
from mergetool.outputs.charts import PITCH, dodge, fmt4, slope_years, style  # noqa: E402
from mergetool.outputs.report import LABELS, render_report  # noqa: E402


@pytest.fixture(scope="module")
def shipped_result(shipped: MappingSet):
    return build(gather_scores(shipped), shipped)


@given(st.lists(st.floats(0, 500, allow_nan=False), max_size=40), st.floats(1, 20))
@settings(max_examples=200, deadline=None)
def test_dodge_keeps_labels_apart_in_order(wanted: list[float], gap: float) -> None:
    got = dodge(wanted, gap)
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    ys = [got[i] for i in order]
    assert all(b - a >= gap - 1e-9 for a, b in itertools.pairwise(ys))
    if all(abs(b - a) >= gap for a, b in zip(sorted(wanted), sorted(wanted)[1:], strict=False)):
        assert got == pytest.approx(wanted)  # nothing moves that need not


@given(st.lists(st.lists(st.integers(1, 34), min_size=1, max_size=5), min_size=1, max_size=34))
@settings(max_examples=60, deadline=None)
def test_bump_labels_never_share_a_row(ranks: list[list[int]]) -> None:
    """Whatever the ranks (ties included), labels of one column are a line apart, inside the chart."""
    from mergetool.outputs.charts import RankSeries, bump_svg

    series = [RankSeries(f"{i:02d}", f"Đơn vị số {i}", dict(enumerate(rs)),
                         "merged" if i % 2 else "unchanged") for i, rs in enumerate(ranks)]
    svg = bump_svg([str(2020 + k) for k in range(5)], series, 34, LABELS["vi"], lane=[], counts=None)
    height = float(re.search(r'height="([\d.]+)"', svg).group(1))
    _assert_label_columns_apart(svg)
    assert all(0 < y < height for _x, y, _a, _s in _labels(svg))
    styles = re.findall(r'data-style="([^"]+)"', svg)
    assert len(styles) == len(set(styles)) == len(series)


def test_line_styles_are_unique() -> None:
    assert len({style(i).key for i in range(160)}) == 160
    assert len({style(i, "square").key for i in range(40)}) == 40


def test_values_are_shown_rounded_half_up() -> None:
    assert fmt4(0.51045) == "0.5105"  # polars' round gives 0.5104
    assert fmt4(0.5104499999999999) == "0.5104"  # a float just below the half is not guessed up
    assert fmt4(-1e-12, signed=True) == "+0.0000"
    assert fmt4(0.0976, signed=True) == "+0.0976"


def test_a_merged_half_is_rounded_up_from_its_exact_mean(shipped: MappingSet) -> None:
    # Bắc Ninh 2021 = mean(0.4933, 0.5276) = 0.51045 exactly; binary floats give 0.51044999...
    result = build(gather_scores(shipped), shipped)
    cell = result.comparable.filter((pl.col("year") == 2021) & (pl.col("code") == "24")
                                    & (pl.col("indicator") == "dti")).row(0, named=True)
    assert str(cell["value_exact"]).rstrip("0") == "0.51045"
    assert fmt4(cell["value"]) == "0.5105"
    html_text = render_report(result, {}, "en")
    assert "0.5105" in html_text
    assert "0.5104" not in html_text


def _svg_of(text: str, figure: str) -> str:
    start = text.index(f"id='{figure}'")
    return text[start:text.index("</figure>", start)]


def _labels(svg: str) -> list[tuple[float, float, str, str]]:
    return [(float(x), float(y), a, s) for x, y, a, s in re.findall(
        r'<text class="label" x="([\d.]+)" y="([\d.-]+)" text-anchor="(\w+)"[^>]*>([^<]*)</text>', svg)]


def _assert_label_columns_apart(svg: str) -> None:
    cols: dict[tuple[float, str], list[float]] = {}
    for x, y, a, _s in _labels(svg):
        cols.setdefault((x, a), []).append(y)
    assert cols
    for ys in cols.values():
        ys.sort()
        assert all(b - a >= PITCH - 0.05 for a, b in itertools.pairwise(ys)), ys


def test_chart_geometry_on_the_shipped_record(shipped_report: Path) -> None:
    text = shipped_report.read_text(encoding="utf-8")
    merger = _svg_of(text, "merger-chart")
    # every 63-unit line (2022 is complete), one column per year with 63-unit ranks, then the 34 column
    assert len(set(re.findall(r'id="rank63-(\d+)"', merger))) == 63
    heads = re.findall(r'<text class="axis col"[^>]*>([^<]*)</text>', merger)
    assert heads == ["2020 (63)", "2021 (63)", "2022 (63)", "2023 (63)", "2024 (63)", "2024 (34)"]
    links = set(re.findall(r'data-from="(\d+)" data-to="(\d+)"', merger))
    assert {("48", "48"), ("49", "48"), ("74", "79"), ("77", "79"), ("79", "79")} <= links
    assert all(b in {"01", "04", "11", "15", "19", "31", "38", "42", "46", "48", "56", "75", "79"}
               for _a, b in links)
    for svg in (merger, _svg_of(text, "bump-chart"), _svg_of(text, "slope-chart")):
        _assert_label_columns_apart(svg)
        styles = re.findall(r'class="series" id="[^"]+" data-style="([^"]+)"', svg)
        assert len(styles) == len(set(styles))  # no two lines look alike


def test_charts_take_their_years_from_the_data(shipped: MappingSet) -> None:
    panel = pl.concat([synth_panel(shipped, "vn-province-2024", [y], ["dti"], seed=y) for y in (2021, 2022)])
    result = build(panel.with_columns(rank=pl.lit(None, pl.Int32)), shipped)
    dti = result.comparable.filter(pl.col("indicator") == "dti")
    assert slope_years(dti) == (2021, 2022)
    assert coverage_frame(result)["rank_basis"].is_null().all()  # the shipped record's notes are not used
    text = render_report(result, {}, "en")
    heads = re.findall(r'<text class="axis col"[^>]*>([^<]*)</text>', _svg_of(text, "merger-chart"))
    assert heads == ["2021 (63)", "2022 (63)", "2022 (34)"]  # ranks computed from complete values
    assert "Change 2021 → 2022" in text
    assert len(set(re.findall(r'id="slope-(\d+)"', text))) == 34


def test_charts_are_drawn_without_matplotlib() -> None:
    import subprocess
    import sys

    code = ("import sys, mergetool.outputs.report, mergetool.outputs.charts; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- coverage map ----------------------------------------------------------------------------


def test_coverage_lists_the_63_predecessors_under_their_34_successors(shipped_result) -> None:
    cov = coverage_frame(shipped_result)
    years = sorted(cov["year"].unique().to_list())
    assert years == [2020, 2021, 2022, 2023, 2024]
    pred = cov.filter(pl.col("role") == "predecessor")
    succ = cov.filter(pl.col("role") == "successor")
    assert pred["code"].n_unique() == 63
    assert succ["code"].n_unique() == 34
    assert pred.height == 63 * 5
    assert succ.height == 34 * 5
    dn = pred.filter(pl.col("successor_code") == "48")
    assert sorted(dn["code"].unique().to_list()) == ["48", "49"]

    def cell(role: str, code: str, year: int) -> dict:
        return cov.filter((pl.col("role") == role) & (pl.col("code") == code)
                          & (pl.col("year") == year)).row(0, named=True)

    assert cell("successor", "48", 2024)["state"] == "value+rank"  # 0.7069, 17th of 34
    assert cell("predecessor", "49", 2024)["value"] == 0.5803
    assert cell("predecessor", "01", 2020)["state"] == "rank only"  # Hà Nội 43rd, no value printed
    assert cell("successor", "12", 2023)["state"] == "none"
    assert cell("predecessor", "01", 2024)["value_basis"] == "carried-from-34"
    assert (pred.filter(pl.col("year") == 2022)["rank"].is_not_null()).all()  # 2022 is complete
    # how a rank was known, where not printed as a number
    assert cell("predecessor", "24", 2023)["rank_basis"] == "list_order"  # Bắc Giang 9th in a top-10 list
    assert cell("predecessor", "24", 2020)["rank_basis"] is None  # 10th, printed (FINDINGS-2)
    assert cell("predecessor", "91", 2020)["rank_basis"] == "conflict"  # Kiên Giang: 8th tie or 9th
    assert cell("predecessor", "42", 2024)["rank_basis"] == "provisional"  # Hà Tĩnh 25/63
    assert cell("predecessor", "84", 2021)["rank_basis"] == "derived_change"
    assert cell("successor", "19", 2024)["rank_basis"] == "published_basis_unstated"
    hy = cell("successor", "33", 2024)  # Hưng Yên: among the last three of 34, order not published
    assert (hy["rank"], hy["rank_basis"], hy["state"]) == (None, "bottom3_unordered", "rank only")
    # in the sheet, every successor row comes before its predecessors
    sheet = coverage_sheet(cov)
    assert sheet.height == 97
    roles = sheet.filter(pl.col("Mã (34)") == "79")["role"].to_list()
    assert roles == ["successor", "predecessor", "predecessor", "predecessor"]


def test_workbook_gains_a_coverage_sheet(tmp_path: Path) -> None:
    import fastexcel

    r = CliRunner().invoke(cli, ["build", "--out", str(tmp_path), "--fail-on", "never"])
    assert r.exit_code == 0, r.output
    book = tmp_path / "comparable.xlsx"
    names = fastexcel.read_excel(book).sheet_names
    assert names[-1] == "coverage"
    assert names[:2] == ["README", "dti"]
    assert "checks" in names
    sheet = pl.read_excel(book, sheet_name="coverage")
    assert sheet.height == 97
    row = sheet.filter(pl.col("Mã") == "49").row(0, named=True)
    got = (row["Mã (34)"], row["2024"], row["2024 value"], row["2024 rank"])
    assert got == ("48", "value+rank", 0.5803, 57)
    bn = pl.read_excel(book, sheet_name="dti").filter(pl.col("Mã") == "24")["2021 value"][0]
    assert bn == 0.5105  # mean(0.4933, 0.5276) = 0.51045, rounded half-up


# --- audit and press claims ------------------------------------------------------------------


def test_audit_leads_with_the_independent_match(shipped_result) -> None:
    for lang in ("vi", "en"):
        text = render_report(shipped_result, {}, lang)
        start = text.index("<section id='audit'>")
        audit = text[start:text.index("</section>", start)]
        i, c, m = (audit.index(f"id='audit-{k}'") for k in ("independent", "circular", "missing"))
        assert i < c < m
        independent = audit[i:c]
        assert "48 Đà Nẵng 2024" in independent
        assert "0.7069" in independent
        assert "0.8335 (Đà Nẵng), 0.5803 (Quảng Nam)" in independent
        assert independent.count("<li>") == 1
        circular = audit[c:m]
        assert "01 Hà Nội 2024" in circular
        assert "46 Huế 2024" in circular
        assert circular.count("<li>") == 2
        missing = audit[m:]
        assert "31 Hải Phòng 2024 (dti)" in missing
        assert "30 Hải Dương, 31 Hải Phòng" in missing
        assert "74 Bình Dương, 77 Bà Rịa - Vũng Tàu, 79 Hồ Chí Minh" in missing


CLAIM_ROWS = [
    ("2023-2024", "dti", "48 Đà Nẵng", "cannot-check",
     '"Đà Nẵng tụt 16 bậc" (https://example.org/a); needs the 2023 values of 48 Đà Nẵng and 49 Quảng Nam'),
    ("2021-2022", "dti", "22 Quảng Ninh", "pass", '"Quảng Ninh lên hạng 3" (https://example.org/b)'),
    ("2023-2024", "dti", "79 Hồ Chí Minh", "fail", '"TP.HCM đứng đầu" (https://example.org/c)'),
    ("2023-2024", "dti", "15 Lào Cai", "warn", '"Lào Cai tăng 5 bậc" (https://example.org/d); provisional'),
]


def test_press_claims_are_rendered_from_the_check_rows(shipped_result) -> None:
    extra = pl.DataFrame([("rank-change-claims", *r) for r in CLAIM_ROWS],
                         schema=shipped_result.checks.schema, orient="row")
    others = shipped_result.checks.filter(pl.col("check") != "rank-change-claims")
    result = replace(shipped_result, checks=pl.concat([others, extra]))
    for lang, words in (("vi", ["xác nhận", "bị bác bỏ", "tạm thời", "không thể kết luận"]),
                        ("en", ["confirmed", "contradicted", "provisional", "cannot tell"])):
        text = render_report(result, {}, lang)
        rows = re.findall(r"<tr class='claim' data-verdict='([\w-]+)'>(.*?)</tr>", text)
        assert [v for v, _ in rows] == ["pass", "fail", "warn", "cannot-check"]
        for (_v, row), word in zip(rows, words, strict=True):
            assert word in row
        assert "<a href='https://example.org/a' rel='noreferrer'>" in text
        assert "&quot;Đà Nẵng tụt 16 bậc&quot;" in text
        assert "needs the 2023 values" in text
        assert "claims-none" not in text
    assert "id='claims-none'" in render_report(replace(shipped_result, checks=others), {}, "en")
    # the shipped record's own claims (claims.csv): every one rendered, confirmed ones first
    real = shipped_result.checks.filter(pl.col("check") == "rank-change-claims")
    assert real.height >= 20
    text = render_report(shipped_result, {}, "en")
    rows = re.findall(r"<tr class='claim' data-verdict='([\w-]+)'>", text)
    assert len(rows) == real.height
    order = ["pass", "fail", "warn", "cannot-check"]
    assert rows == sorted(rows, key=order.index)
    assert "rose four ranks from fifth place" in text  # Hà Nội, Hanoi Times


def test_vietnamese_report_is_vietnamese_throughout(shipped_result) -> None:
    from mergetool.dti.checks import CHECKS
    from mergetool.outputs.report import CHECK_DESCRIPTIONS_VI

    assert set(LABELS["vi"]) == set(LABELS["en"])
    assert set(CHECKS) <= set(CHECK_DESCRIPTIONS_VI)
    assert all(f"chk_{name}" in LABELS["vi"] for name in CHECKS)
    text = render_report(shipped_result, {}, "vi")
    # what is data, not wording: verbatim check details, identifiers, the manifest, unit names
    own = re.sub(r"<td class='details'>.*?</td>|<code>.*?</code>|<pre id='manifest'>.*?</pre>"
                 r"|<script>.*?</script>|<style>.*?</style>", "", text, flags=re.S)
    words = re.sub(r"<[^>]+>", "|", own)  # the text a reader sees, without tags and attributes
    for key, en in LABELS["en"].items():
        if en != LABELS["vi"][key] and "{" not in en and len(en) > 3:
            assert en not in words, key
    verdicts = set(re.findall(r"<td class='verdict-[\w-]+'>([^<]*)</td>", own))
    assert verdicts <= {LABELS["vi"][f"{p}_{v}"] for v in ("pass", "fail", "warn", "cannot-check")
                        for p in ("v", "c")}  # check verdicts, and claim verdicts (confirmed, ...)
    statuses = set(re.findall(r"<td>(ok|incomplete|not-comparable)</td>", own))
    assert not statuses
    for word in ("pass", "warn", "cannot-check", "Summary", "Rank", "Status", "merged", "unchanged"):
        assert f"|{word}|" not in words


# --- in a real browser: every section renders, no label overlaps another, no console error -----

PROBE = """<script>(function(){
var res={sections:{},charts:{}};
document.querySelectorAll('section').forEach(function(s){
  var r=s.getBoundingClientRect(),cs=getComputedStyle(s);
  res.sections[s.id]={h:r.height,w:r.width,text:s.textContent.trim().length,
    visible:cs.display!=='none'&&cs.visibility!=='hidden'};});
document.querySelectorAll('figure').forEach(function(f){var svg=f.querySelector('svg');if(!svg)return;
  var boxes=[];svg.querySelectorAll('text').forEach(function(t){var b=t.getBoundingClientRect();
    if(b.width>0&&b.height>0)boxes.push([t.textContent,b.left,b.top,b.right,b.bottom]);});
  var pairs=[];for(var i=0;i<boxes.length;i++)for(var j=i+1;j<boxes.length;j++){var a=boxes[i],b=boxes[j];
    var ox=Math.min(a[3],b[3])-Math.max(a[1],b[1]),oy=Math.min(a[4],b[4])-Math.max(a[2],b[2]);
    if(ox>0.5&&oy>0.5)pairs.push([a[0],b[0]]);}
  var r=svg.getBoundingClientRect();res.charts[f.id]={texts:boxes.length,overlaps:pairs,w:r.width,h:r.height,
    lines:svg.querySelectorAll('g.series').length};});
var p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify(res);
document.body.appendChild(p);
})();</script></body>"""


@needs_chromium
@pytest.mark.parametrize(("which", "lines"),
                         [("shipped_report", (63, 13, 2)), ("panel_report", (63, 34, 34))])
def test_every_section_renders_and_no_label_overlaps(which: str, lines: tuple[int, int, int],
                                                      request, tmp_path: Path) -> None:
    import json

    page: Path = request.getfixturevalue(which)
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE, 1), encoding="utf-8")
    dom = _chromium(probe, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "error" in line.lower() or "Uncaught" in line], console
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, flags=re.S)
    assert found, "the probe script did not run"
    res = json.loads(html_unescape(found.group(1)))
    assert list(res["sections"]) == ["summary", "coverage", "ranks", "audit", "claims", "slope", "table",
                                     "checks", "provenance"]
    for sid, s in res["sections"].items():
        assert s["visible"], sid
        assert min(s["h"] - 20, s["w"] - 100, s["text"] - 20) > 0, (sid, s)
    charts = res["charts"]
    assert set(charts) == {"merger-chart", "bump-chart", "slope-chart"}
    for fid, c in charts.items():
        assert min(c["w"] - 200, c["h"] - 100, c["texts"] - 2) > 0, (fid, c)
        assert c["overlaps"] == [], (fid, c["overlaps"][:10])
    assert (charts["merger-chart"]["lines"], charts["bump-chart"]["lines"],
            charts["slope-chart"]["lines"]) == lines


def html_unescape(s: str) -> str:
    import html

    return html.unescape(s)
