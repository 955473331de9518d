from pathlib import Path

import polars as pl
import pytest
from helpers import mapping_set, two_into_one

from mergetool.core.mapping import MappingSet, compose, find_units, load_mappings
from mergetool.core.units import UnitRef
from mergetool.errors import InputError

OLD, NEW = "vn-province-2024", "vn-province-2025"


def test_shipped_mapping_is_valid(shipped: MappingSet) -> None:
    assert shipped.problems == []


def test_shipped_mapping_has_the_2025_shape(shipped: MappingSet) -> None:
    (t,) = shipped.transitions
    assert (len(shipped.bases[OLD]), len(shipped.bases[NEW])) == (63, 34)
    assert t.edges["from_code"].n_unique() == t.edges.height == 63  # every old code exactly once
    sizes = t.edges.group_by("to_code").len()["len"].value_counts().sort("len")
    assert dict(sizes.iter_rows()) == {1: 11, 2: 17, 3: 6}
    assert (t.edges["share"] == 1.0).all()


def test_code_reuse_traps_resolve_by_basis(shipped: MappingSet) -> None:
    traps = pl.read_csv(Path(shipped.root) / "code_reuse_traps.csv", infer_schema=False)
    assert traps.height == 7
    for succ, keeper, owner in traps.select("successor_code", "name_keeper_old_code",
                                            "code_owner_old_code").iter_rows():
        preds = {p.code for p, _ in shipped.predecessors_of(UnitRef(NEW, succ))}
        assert {keeper, owner} <= preds
        # The old unit holding the successor's code is a different unit than the name keeper.
        assert shipped.bases[OLD].name_of(owner) != shipped.bases[NEW].name_of(succ)
        assert shipped.bases[OLD].name_of(keeper) == shipped.bases[NEW].name_of(succ)
    # New Lào Cai is 15; old 15 was Yên Bái; old Lào Cai was 10.
    assert shipped.resolve("Lào Cai", NEW) == "15"
    assert shipped.resolve("Lào Cai", OLD) == "10"
    assert shipped.bases[OLD].name_of("15") == "Yên Bái"


def test_same_name_different_territory(shipped: MappingSet) -> None:
    assert shipped.resolve("Huế", OLD) == shipped.resolve("Huế", NEW) == "46"
    dn_new = [p.code for p, _ in shipped.predecessors_of(UnitRef(NEW, "48"))]
    assert dn_new == ["48", "49"]


def test_find_units_suggests_names(shipped: MappingSet) -> None:
    with pytest.raises(InputError, match="not a unit") as exc:
        find_units(shipped, "Da Nag")
    assert "Đà Nẵng" in (exc.value.problems[0].hint or "")


def _write_mapping(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "mapping.toml").write_text(
        'id = "t"\nversion = "1"\n'
        '[[basis]]\nid = "old"\nfile = "old.csv"\n[[basis]]\nid = "new"\nfile = "new.csv"\n'
        '[[transition]]\nid = "m"\nfile = "m.csv"\nfrom_basis = "old"\nto_basis = "new"\n',
        encoding="utf-8")
    (tmp_path / "old.csv").write_text("code,name\n01,A\n02,B\n03,C\n", encoding="utf-8")
    (tmp_path / "new.csv").write_text("code,name\n01,A\n03,C\n", encoding="utf-8")
    (tmp_path / "m.csv").write_text("predecessor_code,successor_code,share\n" + rows,
                                    encoding="utf-8")
    return tmp_path


def test_split_not_summing_to_one_names_the_rows(tmp_path: Path) -> None:
    ms = load_mappings(_write_mapping(tmp_path, "01,01,1\n02,01,0.6\n02,03,0.3\n03,03,1\n"))
    (p,) = ms.problems
    assert (p.code, p.row, p.column, p.found) == ("share-sum", 3, "share", "0.9")
    assert "row 3 -> 01, row 4 -> 03" in p.message


def test_every_problem_is_collected(tmp_path: Path) -> None:
    ms = load_mappings(_write_mapping(tmp_path, "01,01,1\n01,01,1\n09,03,1\n"))
    codes = sorted(p.code for p in ms.problems)
    assert codes == ["duplicate-row", "duplicate-row", "share-sum", "unknown-unit", "unmapped-unit",
                     "unmapped-unit"]
    unknown = next(p for p in ms.problems if p.code == "unknown-unit")
    assert (unknown.row, unknown.column, unknown.found) == (4, "predecessor_code", "09")


def test_successor_without_predecessor_is_reported() -> None:
    ms = mapping_set({"a": [("1", "A")], "b": [("1", "A"), ("2", "B")]},
                     [("m", "a", "b", [("1", "1", 1.0)])])
    assert [p.code for p in ms.problems] == ["no-predecessor"]


def test_cycles_are_reported() -> None:
    ms = mapping_set({"a": [("1", "A")], "b": [("1", "A")]},
                     [("ab", "a", "b", [("1", "1", 1.0)]), ("ba", "b", "a", [("1", "1", 1.0)])])
    assert [p.code for p in ms.problems] == ["cycle"]


def test_compose_multiplies_shares() -> None:
    ms = mapping_set(
        {"a": [("1", "A")], "b": [("1", "B1"), ("2", "B2")], "c": [("1", "C")]},
        [("ab", "a", "b", [("1", "1", 0.25), ("1", "2", 0.75)]),
         ("bc", "b", "c", [("1", "1", 1.0), ("2", "1", 1.0)])])
    assert ms.valid
    composed = compose(*ms.path("a", "c"))
    assert composed.edges.select("from_code", "to_code", "share").rows() == [("1", "1", 1.0)]


def test_graph_nodes_are_basis_and_code() -> None:
    ms = two_into_one()
    assert set(ms.graph.predecessors(UnitRef("new", "01"))) == {UnitRef("old", "01"),
                                                                UnitRef("old", "02")}


def test_shipped_rename_keeps_hue_code(shipped: MappingSet) -> None:
    assert shipped.renames is not None
    assert shipped.renames.select("code", "old_name", "new_name").rows() == [
        ("46", "Thừa Thiên Huế", "Huế")]


def test_a_file_named_in_mapping_toml_must_exist(tmp_path: Path) -> None:
    root = _write_mapping(tmp_path, "01,01,1\n02,01,1\n03,03,1\n")
    toml = root / "mapping.toml"
    toml.write_text('renames = "renames.csv"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_mappings(root)
    (p,) = err.value.problems
    assert (p.code, p.file, p.found) == ("missing-file", str(toml), "renames.csv")
    assert "m.csv" in (p.hint or "")


def test_a_rename_must_name_the_same_code(tmp_path: Path) -> None:
    root = _write_mapping(tmp_path, "01,01,1\n02,01,1\n03,03,1\n")
    toml = root / "mapping.toml"
    toml.write_text('renames = "renames.csv"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    (root / "renames.csv").write_text("code,old_name,new_name\n01,A,A\n03,B,C\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_mappings(root)
    (p,) = err.value.problems
    assert (p.code, p.row, p.column, p.found) == ("unknown-unit", 3, "old_name", "B")


def test_an_aggregate_name_is_refused_as_what_it_is(shipped: MappingSet) -> None:
    # "Cả nước" (the whole country) looks like "Cà Mau": the hint must say what it is, never
    # offer a unit a user might rename the national row into.
    for text in ("Cả nước", "CA NUOC", "Trung bình cả nước", "Toàn quốc", "national average"):
        with pytest.raises(InputError, match="not a unit") as exc:
            find_units(shipped, text)
        hint = exc.value.problems[0].hint or ""
        assert "not a unit: an aggregate is not rebased" in hint
        assert "did you mean" not in hint
    assert "the whole country" in (shipped.bases[OLD].resolver.hint("Cả nước") or "")
    for text in ("Toàn quốc (63 tỉnh)", "Trung bình chung"):  # the words it begins with
        assert "an aggregate is not rebased" in (shipped.bases[OLD].resolver.hint(text) or "")
    assert shipped.resolve("Cả nước", OLD) is None
    assert "did you mean 'Cà Mau'" in (shipped.bases[OLD].resolver.hint("Ca Mao") or "")


def _with_aggregates(tmp_path: Path, text: str) -> Path:
    root = _write_mapping(tmp_path, "01,01,1\n02,01,1\n03,03,1\n")
    toml = root / "mapping.toml"
    toml.write_text('aggregates = "agg.csv"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    (root / "agg.csv").write_text(text, encoding="utf-8")
    return root


def test_aggregates_are_read_per_basis(tmp_path: Path) -> None:
    ms = load_mappings(_with_aggregates(
        tmp_path, "name,meaning,basis\nAll,every unit,*\nOld total,the old units' total,old\n"))
    assert ms.problems == []
    assert "every unit" in (ms.bases["new"].resolver.hint("all") or "")
    assert "the old units' total" in (ms.bases["old"].resolver.hint("Old total") or "")
    assert "aggregate" not in (ms.bases["new"].resolver.hint("Old total") or "")
    assert "agg.csv" in ms.files  # hashed with the other mapping files: outputs name it


def test_a_bad_aggregates_file_names_its_rows(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_mappings(_with_aggregates(
            tmp_path, "name,meaning,basis\nB,a unit's name,old\nAll,,*\nX,x,nowhere\n"))
    found = [(p.code, p.row, p.column) for p in err.value.problems]
    assert found == [("bad-mapping", 2, "name"), ("bad-mapping", 3, "meaning"),
                     ("unknown-basis", 4, "basis")]
    assert "aggregate name 'B' is a unit name of old (02 B)" in err.value.problems[0].message
