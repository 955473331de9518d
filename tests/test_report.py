"""The HTML report: self-contained, complete, and working in a real browser (headless Chromium)."""

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from mergetool.cli import cli
from mergetool.mapping import MappingSet
from mergetool.synth import synth_panel

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
    assert "Ranks over the years" in text


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
        r = _chromium(page, f"--screenshot={shot}", width=width)
        assert r.returncode == 0, r.stderr[-2000:]
        assert shot.stat().st_size > 10_000
