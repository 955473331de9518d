"""Every loader, fed arbitrary bytes or mutations of a valid table, loads or raises MergetoolError."""

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mergetool.core.mapping import load_mappings, shipped_mappings_dir
from mergetool.core.rebase import read_weights
from mergetool.dti.spec import read_scores
from mergetool.errors import MergetoolError
from mergetool.io.tables import read_table

VALID = ("year;province;Chỉ số Nhận thức số;PDTI\n2022;TP. Đà Nẵng;1,0000;0,8002\n"
         "2022;Thừa Thiên - Huế;0,9500;0,6975\n2022;Quảng Nam;0,5;0,5803\n")
# Bounded for CI; FUZZ_EXAMPLES=2000 for a longer local run.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _load_or_domain_error(fn, *args, **kw) -> None:
    try:
        fn(*args, **kw)
    except MergetoolError as exc:
        message = str(exc)
        if not message:
            raise AssertionError("a domain error without a message") from exc


@st.composite
def mutated(draw, text: str = VALID) -> str:
    chars = list(text)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "dup_line", "swap"]))
        i = draw(st.integers(0, max(0, len(chars) - 1)))
        if op == "delete" and chars:
            del chars[i]
        elif op == "insert":
            chars.insert(i, draw(st.sampled_from(list(";,\t\n\"'.-x0\u00a0\ufeffĐ\x00"))))
        elif op == "replace" and chars:
            chars[i] = draw(st.characters())
        elif op == "dup_line":
            lines = "".join(chars).split("\n")
            j = draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines[j])
            chars = list("\n".join(lines))
        elif op == "swap" and len(chars) > 1:
            j = draw(st.integers(0, len(chars) - 1))
            chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([".csv", ".xlsx", ".parquet", ".tsv"]))
def test_arbitrary_bytes(shipped, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"t{suffix}"
        p.write_bytes(data)
        _load_or_domain_error(read_table, p)
        _load_or_domain_error(read_scores, p, shipped, year=2022)


@FUZZ
@given(mutated(), st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]))
def test_mutated_score_table(shipped, text: str, encoding: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "dti_2022_63.csv"
        p.write_bytes(text.encode(encoding, errors="surrogatepass"))
        _load_or_domain_error(read_scores, p, shipped, year=2022)
        _load_or_domain_error(read_scores, p, shipped, basis="vn-province-2024", year=2022)


@FUZZ
@given(mutated("unit,weight\nĐà Nẵng,1200000\nQuảng Nam,1500000\n"))
def test_mutated_weights(shipped, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "w.csv"
        p.write_text(text, encoding="utf-8", errors="surrogatepass")
        _load_or_domain_error(read_weights, str(p), shipped, "vn-province-2024")


_MAPPING_FILES = ("mapping.toml", "transitions/vn-merger-2025.csv", "aliases.csv", "renames.csv",
                  "bases/vn-province-2024.csv", "bases/vn-province-2025.csv")
_ORIGINAL = {f: (shipped_mappings_dir() / f).read_text(encoding="utf-8") for f in _MAPPING_FILES}


@st.composite
def mutated_mapping_file(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(_MAPPING_FILES))
    return name, draw(mutated(_ORIGINAL[name]))


@settings(max_examples=max(60, int(os.environ.get("FUZZ_EXAMPLES", "60")) // 2), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_mapping_file(), min_size=1, max_size=2))
def test_mutated_mapping(edits: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "m"
        shutil.copytree(shipped_mappings_dir(), root)
        for name, text in edits:
            (root / name).write_text(text, encoding="utf-8", errors="surrogatepass")
            _load_or_domain_error(load_mappings, root)
