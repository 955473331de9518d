"""The mapping graph: bases, transitions between them, and their validation.

A mapping directory holds ``mapping.toml`` (metadata and the list of files),
one CSV per basis (``code, name, ...``), one CSV per transition
(``predecessor_code, successor_code, share`` plus optional name columns) and an
aliases CSV. :func:`load_mappings` reads it into a :class:`MappingSet`; structural
problems (a missing file or column) raise at once, while every validation finding
(unknown codes, shares not summing to 1, unmapped units, cycles, ...) is
collected in :attr:`MappingSet.problems` so ``mergetool mappings check`` can list
them all.

The graph is a networkx ``DiGraph`` whose nodes are :class:`UnitRef` (basis, code)
and whose edges carry the share of the predecessor that goes to the successor.
Splits are a predecessor with several out-edges whose shares sum to 1; chains of
reforms compose by multiplying shares along paths (:func:`compose`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import polars as pl

from mergetool.core.names import clean, normalise_code
from mergetool.core.units import Basis, UnitRef, aggregate_hint, did_you_mean
from mergetool.errors import Detail, InFile, InputError, Problem, ProblemLog
from mergetool.io.tables import ROW, parse_numbers, read_table, require_columns, sha256_file

if TYPE_CHECKING:
    import networkx as nx

SHARE_TOLERANCE = 1e-9
EDGE_SCHEMA = {"from_code": pl.String, "to_code": pl.String, "share": pl.Float64}


@dataclass
class Transition:
    """One reform: every unit of ``from_basis`` goes, by shares, to units of ``to_basis``."""
    id: str
    from_basis: str
    to_basis: str
    edges: pl.DataFrame  # from_code, to_code, share (+ _row when read from a file)
    meta: dict[str, str] = field(default_factory=dict)
    file: str | None = None

    def predecessors(self) -> pl.DataFrame:
        """Successor code -> sorted list of predecessor codes (shares > 0 or unknown)."""
        return (self.edges.filter(pl.col("share").is_null() | (pl.col("share") > 0)).group_by("to_code")
                .agg(pl.col("from_code").sort()).sort("to_code"))


@dataclass
class MappingSet:
    """Bases and transitions, the graph they form, and what validation found."""
    bases: dict[str, Basis]
    transitions: list[Transition]
    id: str = "custom"
    version: str = "unversioned"
    root: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    renames: pl.DataFrame | None = None  # same code and territory, new name
    problems: list[Problem] = field(default_factory=list)
    #: mapping.toml's ``[application]`` table as written (e.g. ``source_basis``/``target_basis``).
    application: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.problems = sorted([*self.problems, *validate(self)], key=Problem.sort_key)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """Predecessor -> successor graph of :class:`UnitRef` nodes, edges carrying ``share``.

        Built on first use: validation and rebasing work on the edge frames, so a batch run
        over a million units does not pay for a million graph nodes it never looks at.
        """
        import networkx as nx  # lazy: only a walk of the graph needs it (0.14 s import)

        graph: nx.DiGraph[UnitRef] = nx.DiGraph()
        for basis in self.bases.values():
            for code, name in basis.units.select("code", "name").iter_rows():
                graph.add_node(UnitRef(basis.id, code), name=name)
        for t in self.transitions:
            for a, b, share in t.edges.select("from_code", "to_code", "share").iter_rows():
                graph.add_edge(UnitRef(t.from_basis, a), UnitRef(t.to_basis, b),
                               share=share, transition=t.id)
        return graph

    @property
    def valid(self) -> bool:
        return not self.problems

    def require_valid(self) -> None:
        """Raise the validation findings as one :class:`InputError`."""
        if self.problems:
            raise InputError(f"the mappings in {self.root or '<memory>'} are not valid",
                             self.problems)

    def basis(self, basis_id: str) -> Basis:
        if basis_id not in self.bases:
            raise InputError.single(Problem(
                "unknown-basis", f"no basis {basis_id!r}", expected=" or ".join(self.bases),
                found=basis_id))
        return self.bases[basis_id]

    def basis_graph(self) -> nx.DiGraph:
        import networkx as nx  # lazy: only a walk of the graph needs it (0.14 s import)

        g: nx.DiGraph[str] = nx.DiGraph()
        g.add_nodes_from(self.bases)
        for t in self.transitions:
            g.add_edge(t.from_basis, t.to_basis, transition=t)
        return g

    def path(self, from_basis: str, to_basis: str) -> list[Transition]:
        """The chain of transitions leading from one basis to another (empty if equal)."""
        self.basis(from_basis)
        self.basis(to_basis)
        if from_basis == to_basis:
            return []
        # One transition straight there is the shortest path: no graph library needed (this
        # keeps networkx out of the start-up of every command on a one-step mapping).
        direct = [t for t in self.transitions if (t.from_basis, t.to_basis) == (from_basis, to_basis)]
        if direct:
            return [direct[-1]]  # as the basis graph keeps the last edge added
        import networkx as nx  # lazy: only a walk of the graph needs it (0.14 s import)

        g = self.basis_graph()
        try:
            steps = nx.shortest_path(g, from_basis, to_basis)
        except nx.NetworkXNoPath:
            raise InputError.single(Problem(
                "no-path", f"no transition leads from {from_basis} to {to_basis}",
                hint="rebase goes forward in time only; add a transition file")) from None
        return [g.edges[a, b]["transition"] for a, b in itertools.pairwise(steps)]

    def composed(self, from_basis: str, to_basis: str) -> Transition:
        """The chain of transitions from one basis to another as one transition (:func:`compose`):
        who went where, across every step (a one-step path is its transition)."""
        return functools.reduce(compose, self.path(from_basis, to_basis))

    def successors_of(self, ref: UnitRef) -> list[tuple[UnitRef, float]]:
        return sorted((s, d["share"]) for s, d in self.graph.succ[ref].items())

    def predecessors_of(self, ref: UnitRef) -> list[tuple[UnitRef, float]]:
        return sorted((p, d["share"]) for p, d in self.graph.pred[ref].items())

    def resolve(self, text: str, basis_id: str) -> str | None:
        """The code a code or name denotes on a basis, or None."""
        basis = self.basis(basis_id)
        code = normalise_code(text)
        if code is not None:
            return code if code in basis.codes else None
        if basis.meta.get("levels"):  # commune names repeat: resolve in context, never first match
            from mergetool.core.hierarchy import resolve_text  # here: provinces never need it

            return resolve_text(self, basis, text)
        return basis.resolver.resolve(text)

    def resolve_many(self, texts: pl.Series, basis_id: str) -> pl.Series:
        """:meth:`resolve` for a column of (distinct) values, vectorised: codes and names as
        written in the basis or aliases are joined against cached lookup tables in polars;
        Python folds only names that might resolve and are not written as the basis writes them."""
        basis = self.basis(basis_id)
        name = texts.name
        if texts.null_count() == texts.len():
            return pl.Series(name, [None] * texts.len(), dtype=pl.String)
        codes, names = _lookup_tables(basis)
        frame = pl.DataFrame({"t": texts.cast(pl.String).str.strip_chars()}).with_columns(
            is_code=pl.col("t").str.contains(r"^[0-9]+(\.0+)?$").fill_null(False))
        frame = frame.with_columns(
            code=pl.when("is_code").then(pl.col("t").str.replace(r"\.0+$", "").str.zfill(2)))
        frame = (frame.join(codes, on="code", how="left", maintain_order="left")
                 .join(names, on="t", how="left", maintain_order="left")
                 .with_columns(hit=pl.when("is_code").then("by_code").otherwise("by_name")))
        misses = frame.filter(~pl.col("is_code") & pl.col("hit").is_null()
                              & pl.col("t").is_not_null() & (pl.col("t") != ""))["t"].unique()
        if misses.len():
            # Only a name whose coarse key occurs among the basis's names can resolve: the rest
            # (e.g. every name of another basis, during detection) skip Python folding.
            coarse = _coarse_keys(misses)
            misses = misses.filter(coarse.is_null() | coarse.is_in(_basis_coarse_keys(basis)))
        if misses.len():
            folded = {t: basis.resolver.resolve(t) for t in misses}
            frame = frame.with_columns(hit=pl.coalesce(
                "hit", pl.col("t").replace_strict(folded, default=None, return_dtype=pl.String)))
        return frame["hit"].alias(name)


def _lookup_tables(basis: Basis) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cached join tables of a basis: its codes, and its names and aliases as written."""
    cached = getattr(basis, "_lookup", None)
    if cached is None or cached[0] != len(basis.resolver.names):
        written = basis.resolver.as_written()
        codes = pl.DataFrame({"code": sorted(basis.codes)}, schema={"code": pl.String}
                             ).with_columns(by_code=pl.col("code"))
        names = pl.DataFrame({"t": list(written), "by_name": list(written.values())},
                             schema={"t": pl.String, "by_name": pl.String})
        cached = (len(basis.resolver.names), codes, names)
        basis._lookup = cached  # type: ignore[attr-defined]  # a cache on the instance, not a field
    return cached[1], cached[2]


_COARSE_DROP = r"thanhpho|thudo|tinh|tp"


def _coarse_keys(texts: pl.Series) -> pl.Series:
    """A key coarser than :func:`names.name_key` and :func:`names.ascii_key` (letters and digits
    only, no diacritics or case, administrative words dropped): two names that fold alike have
    equal coarse keys, so a coarse key absent from a basis proves a name cannot resolve there.
    Null where the text holds letters beyond Latin (case folding there is not lower-casing)."""
    folded = (texts.str.normalize("NFD").str.replace_all(r"\p{M}", "")
              .str.replace_all(r"[ĐđÐð]", "d").str.to_lowercase())
    alnum = folded.str.replace_all(r"[^\p{L}\p{N}]", "")
    latin = alnum.str.contains(r"^[a-z0-9]*$")
    return pl.select(pl.when(latin).then(alnum.str.replace_all(_COARSE_DROP, ""))).to_series()


def _basis_coarse_keys(basis: Basis) -> pl.Series:
    cached = getattr(basis, "_coarse", None)
    if cached is None or cached[0] != len(basis.resolver.names):
        keys = _coarse_keys(pl.Series(basis.resolver.names, dtype=pl.String)).drop_nulls().unique()
        cached = (len(basis.resolver.names), keys)
        basis._coarse = cached  # type: ignore[attr-defined]  # a cache on the instance, not a field
    return cached[1]


def compose(first: Transition, second: Transition) -> Transition:
    """The single transition equal to applying ``first`` then ``second`` (shares multiplied)."""
    if first.to_basis != second.from_basis:
        raise ValueError(f"cannot compose {first.id} ({first.to_basis}) with {second.id} "
                         f"({second.from_basis})")
    edges = (first.edges.select("from_code", mid="to_code", s1="share")
             .join(second.edges.select(mid="from_code", to_code="to_code", s2="share"), on="mid")
             .with_columns(s=pl.col("s1") * pl.col("s2"))
             # An unknown share (blank: a divided unit's part) stays unknown, never 0.
             .group_by("from_code", "to_code").agg(share=pl.when(pl.col("s").null_count() > 0)
                                                   .then(None).otherwise(pl.col("s").sum()))
             .sort("from_code", "to_code"))
    return Transition(f"{first.id}+{second.id}", first.from_basis, second.to_basis, edges)


def transition_from_pairs(tid: str, from_basis: str, to_basis: str,
                          pairs: list[tuple[str, str, float]]) -> Transition:
    """A transition built in code from ``(from_code, to_code, share)`` triples."""
    return Transition(tid, from_basis, to_basis,
                      pl.DataFrame(pairs, schema=EDGE_SCHEMA, orient="row"))


# --- validation ----------------------------------------------------------------------------------

def validate(ms: MappingSet) -> list[Problem]:
    """Every problem in a mapping set: unknown codes, share sums, unmapped units, cycles."""
    log = ProblemLog()
    for basis in ms.bases.values():
        _validate_names(basis, log)
    for t in ms.transitions:
        _validate_transition(ms, t, log)
    if len(ms.transitions) < 2 and all(t.from_basis != t.to_basis for t in ms.transitions):
        return log.problems  # a cycle needs two transitions or one onto its own basis
    import networkx as nx  # lazy: only a walk of the graph needs it (0.14 s import)

    g = ms.basis_graph()
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        chain = " -> ".join([a for a, _ in cycle] + [cycle[-1][1]])
        log.add("cycle", f"the transitions form a cycle: {chain}",
                file=g.edges[cycle[0][0], cycle[0][1]]["transition"].file,
                hint="a reform maps an older basis to a newer one; remove the transition that goes back")
    return log.problems


def _validate_names(basis: Basis, log: ProblemLog) -> None:
    """One name (canonical or alias, folded) must denote one unit of a basis, or a table naming
    it could not say which. A basis whose names repeat by design (wards named "Phường 1" in many
    districts) says so with ``unique_names = false`` in mapping.toml; such a name then resolves
    to no unit and the table must use codes. A basis with ``levels`` (communes inside districts
    and provinces) names its units within their parents (:mod:`mergetool.core.hierarchy`), where a
    bare name shared by several units is refused as ``ambiguous-unit`` when a table uses it."""
    if str(basis.meta.get("unique_names", "true")).lower() == "false" or basis.meta.get("levels"):
        return
    for key, codes in sorted(basis.resolver.ambiguous.items()):
        units = ", ".join(f"{c} {basis.name_of(c)}" for c in sorted(codes))
        log.add("duplicate-row", f"the name {key!r} denotes {len(codes)} units of {basis.id}: {units}",
                file=basis.meta.get("file"), column="name", found=key,
                hint="give each unit its own name (or alias); if names repeat by design, set "
                     "unique_names = false in the [[basis]] entry and use codes in tables")


def _validate_transition(ms: MappingSet, t: Transition, log: ProblemLog) -> None:
    where: InFile = {"file": t.file}
    edges = t.edges if ROW in t.edges.columns else t.edges.with_row_index(ROW, offset=2)
    for side, basis_id in (("from_code", t.from_basis), ("to_code", t.to_basis)):
        if basis_id not in ms.bases:
            log.add("unknown-basis", f"transition {t.id} names basis {basis_id!r}, which is not defined",
                    expected=" or ".join(ms.bases), found=basis_id, **where)
            return
        basis = ms.bases[basis_id]
        for row, code in edges.filter(~pl.col(side).is_in(list(basis.codes))).select(
                ROW, side).iter_rows():
            near = sorted(basis.codes, key=lambda c: (abs(int(c) - int(code))
                          if c.isdigit() and code.isdigit() else 0, c))[:3]
            log.add("unknown-unit", f"code {code!r} is not a unit of {basis_id}", row=row,
                    column=t.meta.get(f"{side}_column", side), found=code,
                    expected=f"one of the {len(basis)} codes of {basis_id}",
                    hint="nearest codes: " + ", ".join(f"{c} {basis.name_of(c)}" for c in near),
                    **where)
    dup = edges.filter(pl.struct("from_code", "to_code").is_duplicated())
    for row, a, b in dup.select(ROW, "from_code", "to_code").iter_rows():
        log.add("duplicate-row", f"the pair {a} -> {b} appears more than once", row=row,
                column=t.meta.get("from_code_column", "from_code"), found=f"{a} -> {b}",
                hint="keep one row per predecessor and successor", **where)
    for row, share in edges.filter((pl.col("share") <= 0) | (pl.col("share") > 1)).select(
            ROW, "share").iter_rows():
        log.add("share-sum", "a share must lie in (0, 1]", row=row,
                column=t.meta.get("share_column", "share"), found=str(share), **where)
    sums = edges.group_by("from_code").agg(pl.col("share").sum(), pl.col(ROW), pl.col("to_code"),
                                           unknown=pl.col("share").null_count(), n=pl.len())
    for code, rows, unknown, n in sums.filter(
            (pl.col("unknown") > 0) & ((pl.col("unknown") < pl.col("n")) | (pl.col("n") == 1))
    ).sort("from_code").select("from_code", ROW, "unknown", "n").iter_rows():
        log.add("share-sum", f"predecessor {code} has {unknown} blank share(s) among {n} successor(s)",
                row=min(rows), column=t.meta.get("share_column", "share"),
                expected="every share of a divided unit known, or every one blank (unknown)",
                hint="a unit with one successor has share 1", **where)
    sums = sums.filter(pl.col("unknown") == 0)
    for code, total, rows, succ, *_ in sums.filter(
            (pl.col("share") - 1).abs() > SHARE_TOLERANCE).sort("from_code").iter_rows():
        parts = ", ".join(f"row {r} -> {s}" for r, s in zip(rows, succ, strict=True))
        log.add("share-sum", f"the shares of predecessor {code} sum to {total:.6g}, not 1 ({parts})",
                row=min(rows), column=t.meta.get("share_column", "share"), expected="1",
                found=f"{total:.6g}", hint="a unit's shares across all its successors must add to 1",
                **where)
    # Every unit of either basis must appear on its side of the transition.
    for basis_id, side, code_name, what, column, hint in (
            (t.from_basis, "from_code", "unmapped-unit", "successor", "predecessor_code",
             "add a row for it (an unchanged unit maps to itself with share 1)"),
            (t.to_basis, "to_code", "no-predecessor", "predecessor", "successor_code",
             "every unit of the new basis must receive at least one predecessor")):
        if basis_id not in ms.bases:
            continue
        basis = ms.bases[basis_id]
        for code in sorted(basis.codes - set(edges[side])):
            log.add(code_name, f"{code} {basis.name_of(code)} ({basis_id}) has no {what} in "
                    f"transition {t.id}", column=column, hint=hint, **where)
    _check_names(ms, t, edges, log)


def _check_names(ms: MappingSet, t: Transition, edges: pl.DataFrame, log: ProblemLog) -> None:
    """Optional name columns must name the unit the code denotes (catches code-reuse slips)."""
    where: InFile = {"file": t.file}
    if any(b in ms.bases and ms.bases[b].meta.get("levels") for b in (t.from_basis, t.to_basis)):
        from mergetool.core.hierarchy import check_edge_names

        log.extend(check_edge_names(ms, t, edges))
        return
    for side, name_col, basis_id in (("from_code", "from_name", t.from_basis),
                                     ("to_code", "to_name", t.to_basis)):
        if name_col not in edges.columns or basis_id not in ms.bases:
            continue
        basis = ms.bases[basis_id]
        for row, code, name in edges.select(ROW, side, name_col).iter_rows():
            if not name or code not in basis.codes:
                continue
            named = basis.resolver.resolve(name)
            if named != code:
                what = (f"{name!r} is {named} {basis.name_of(named)} on {basis_id}" if named
                        else f"{name!r} is not a unit of {basis_id}")
                log.add("unknown-unit", f"code {code} is {basis.name_of(code)}, but the name says "
                        f"otherwise: {what}", row=row, column=t.meta.get(f"{name_col}_column", name_col),
                        expected=basis.name_of(code), found=name,
                        hint="codes are reused across bases; check the code against the basis list",
                        **where)


# --- loading from files --------------------------------------------------------------------------

def shipped_mappings_dir(name: str = "vn-2025") -> Path:
    """A mapping directory shipped with the package (or the source tree's, in development)."""
    packaged = resources.files("mergetool") / "_mappings" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "mappings" / name


def shipped_mapping_names() -> list[str]:
    """Names of the shipped mappings (``vn-2025``, ``vn-2025-wards``)."""
    root = shipped_mappings_dir().parent
    return sorted(p.name for p in root.iterdir() if (p / "mapping.toml").is_file())


def _meta_problem(path: Path, message: str, **kw: Unpack[Detail]) -> InputError:
    return InputError.single(Problem("bad-mapping", message, file=str(path), **kw))


def _member(root: Path, value: object, toml_path: Path, key: str) -> Path:
    """A file named in mapping.toml, which must be a relative path to an existing file."""
    if not isinstance(value, str) or not value.strip():
        raise _meta_problem(toml_path, f"{key} must name a file in the mapping directory",
                            found=repr(value), expected='a relative path such as "aliases.csv"')
    path = root / value
    if not path.is_file():
        near = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.csv"))
        raise InputError.single(Problem(
            "missing-file", f"{key} names a file that does not exist", file=str(toml_path),
            found=value, expected=str(path),
            hint=f"files present: {', '.join(near)}" if near else "add the file beside mapping.toml"))
    return path


def _normalise_codes(frame: pl.DataFrame, column: str, path: Path, log: ProblemLog) -> pl.Series:
    """:func:`normalise_code` over a column: plain ASCII digit cells in one vectorised pass (a
    commune basis has 10,000 rows), every other cell through the function itself, one by one."""
    raw = frame[column]
    plain = raw.str.contains(r"^[0-9]+$").fill_null(False)
    codes = raw.str.zfill(2).zip_with(plain, pl.Series([None] * frame.height, dtype=pl.String))
    if not plain.all():
        rest = frame.filter(~plain).select(ROW, column)
        fixed = {}
        for row, value in rest.iter_rows():
            code = normalise_code(value or "")
            if code is None:
                log.add("bad-code", "a unit code must be digits", file=str(path), row=row,
                        column=column, found=value, expected="digits such as 01")
            fixed[row] = code
        codes = pl.Series([fixed.get(r, c) for r, c in zip(frame[ROW], codes, strict=True)],
                          dtype=pl.String) if fixed else codes
    return codes.alias("code")
def _require_text(spec: dict, keys: tuple[str, ...], toml_path: Path, table: str) -> None:
    """TOML values that name things must be non-empty strings (``id = 5`` is a slip)."""
    for key in keys:
        value = spec[key]
        if not isinstance(value, str) or not value.strip():
            raise _meta_problem(toml_path, f"{table} {key} must be a non-empty string",
                                found=repr(value), expected=f'{key} = "..."')


def _duplicate_specs(specs: list[dict], toml_path: Path) -> list[Problem]:
    """Two [[basis]] with one id, or two [[transition]] with one id or one (from, to) pair:
    the later one would silently replace or shadow the earlier."""
    problems = []
    seen: dict[object, int] = {}
    for n, spec in enumerate(specs, start=1):
        table = "[[transition]]" if "from_basis" in spec else "[[basis]]"
        keys = [("id", table, spec["id"])]
        if "from_basis" in spec:
            keys.append(("path", table, (spec["from_basis"], spec["to_basis"])))
        for kind, tbl, key in keys:
            if (kind, tbl, key) in seen:
                what = (f"id {key!r}" if kind == "id" else
                        f"{key[0]} -> {key[1]}")
                problems.append(Problem(
                    "bad-mapping", f"{tbl} {what} is defined twice (entries {seen[(kind, tbl, key)]} "
                    f"and {n})", file=str(toml_path), found=str(key),
                    hint="keep one entry; merge the files if both hold rows"))
            else:
                seen[(kind, tbl, key)] = n
    return problems


def _read_basis(root: Path, spec: dict, toml_path: Path) -> Basis:
    if not isinstance(spec, dict) or "id" not in spec or "file" not in spec:
        raise _meta_problem(toml_path, "every [[basis]] needs 'id' and 'file'", found=str(spec))
    _require_text(spec, ("id",), toml_path, "[[basis]]")
    path = _member(root, spec["file"], toml_path, "[[basis]] file")
    frame, _ = read_table(path)
    cols = require_columns(frame, path, {"code": ("code",), "name": ("name", "name_vi")})
    log = ProblemLog()
    codes = _normalise_codes(frame, cols["code"], path, log)
    names = pl.Series([None if v is None else clean(v) for v in frame[cols["name"]]], dtype=pl.String)
    frame = frame.with_columns(code=codes, name=names)
    for row, code in frame.filter(pl.col("code").is_duplicated() & pl.col("code").is_not_null()
                                  ).select(ROW, "code").iter_rows():
        log.add("duplicate-row", f"code {code} appears more than once", file=str(path), row=row,
                column=cols["code"], found=code)
    log.raise_if_any(f"{path}: bad basis list")
    keep = ["code", "name", *[c for c in frame.columns if c not in (ROW, "code", "name",
                                                                      cols["name"], cols["code"])]]
    return Basis(spec["id"], frame.select(keep), {k: str(v) for k, v in spec.items()})


_TRANSITION_COLUMNS = {
    "from_code": ("predecessor_code", "from_code", "old_code"),
    "to_code": ("successor_code", "to_code", "new_code"),
}
_OPTIONAL = {"share": ("share", "weight_share"), "from_name": ("predecessor_name", "from_name"),
             "to_name": ("successor_name", "to_name")}


def _read_transition(root: Path, spec: dict, toml_path: Path) -> Transition:
    for key in ("id", "file", "from_basis", "to_basis"):
        if not isinstance(spec, dict) or key not in spec:
            raise _meta_problem(toml_path, f"every [[transition]] needs {key!r}", found=str(spec))
    _require_text(spec, ("id", "from_basis", "to_basis"), toml_path, "[[transition]]")
    path = _member(root, spec["file"], toml_path, "[[transition]] file")
    frame, delimiter = read_table(path)
    cols = require_columns(frame, path, _TRANSITION_COLUMNS)
    lower = {c.casefold(): c for c in frame.columns}
    for role, accepted in _OPTIONAL.items():
        hit = next((lower[a] for a in accepted if a in lower), None)
        if hit:
            cols[role] = hit
    log = ProblemLog()
    out: dict[str, pl.Series] = {}
    for role in ("from_code", "to_code"):
        out[role] = _normalise_codes(frame, cols[role], path, log).alias(role)
    if "share" in cols:
        blank_unknown = spec.get("unknown_shares") == "blank"
        out["share"] = parse_numbers(frame, cols["share"], path, delimiter, log,
                                     allow_null=blank_unknown)
    else:
        out["share"] = pl.Series("share", [1.0] * frame.height)
    log.raise_if_any(f"{path}: bad transition rows")
    edges = pl.DataFrame({ROW: frame[ROW], **{k: v.alias(k) for k, v in out.items()}})
    for role in ("from_name", "to_name"):
        if role in cols:
            edges = edges.with_columns(frame[cols[role]].alias(role))
    meta = {k: str(v) for k, v in spec.items()} | {f"{k}_column": v for k, v in cols.items()}
    return Transition(spec["id"], spec["from_basis"], spec["to_basis"], edges, meta,
                      file=str(path))


def load_mappings(root: str | Path | None = None) -> MappingSet:
    """Read a mapping directory, or a shipped mapping by name (default: the Vietnam 2025
    provinces; ``vn-2025-wards`` for the communes)."""
    root = Path(root) if root is not None else shipped_mappings_dir()
    if not root.exists() and len(root.parts) == 1 and (shipped_mappings_dir(root.name)
                                                        / "mapping.toml").is_file():
        root = shipped_mappings_dir(root.name)
    toml_path = root / "mapping.toml"
    if not toml_path.is_file():
        raise InputError.single(Problem("missing-file", "no mapping.toml in the mapping directory",
                                        file=str(toml_path), hint="point --mappings at a directory "
                                        "holding mapping.toml, or name a shipped mapping: "
                                        + ", ".join(shipped_mapping_names())))
    try:
        meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _meta_problem(toml_path, f"not valid TOML: {exc}") from None
    for key in ("basis", "transition"):
        if not isinstance(meta.get(key, []), list):
            raise _meta_problem(toml_path, f"{key} must be a table array written [[{key}]]",
                                found=repr(meta[key]))
    for key in ("id", "version", "aliases", "renames", "aggregates"):
        if key in meta and not isinstance(meta[key], (str, int, float)):
            raise _meta_problem(toml_path, f"{key} must be a string", found=repr(meta[key]),
                                expected=f'{key} = "..."')
    bases = [_read_basis(root, spec, toml_path) for spec in meta.get("basis", [])]
    if not bases:
        raise _meta_problem(toml_path, "no [[basis]] defined")
    by_id = {b.id: b for b in bases}
    files = {"mapping.toml": sha256_file(toml_path)}
    if "aliases" in meta:
        path = _member(root, meta["aliases"], toml_path, "aliases")
        _read_aliases(path, by_id)
        files[meta["aliases"]] = sha256_file(path)
    if "aggregates" in meta:
        path = _member(root, meta["aggregates"], toml_path, "aggregates")
        _read_aggregates(path, by_id)
        files[meta["aggregates"]] = sha256_file(path)
    renames = None
    if "renames" in meta:
        path = _member(root, meta["renames"], toml_path, "renames")
        renames = _read_renames(path, by_id)
        files[meta["renames"]] = sha256_file(path)
    transitions = [_read_transition(root, spec, toml_path) for spec in meta.get("transition", [])]
    extra = [*_duplicate_specs(meta.get("basis", []), toml_path),
             *_duplicate_specs(meta.get("transition", []), toml_path)]
    for spec in [*meta.get("basis", []), *meta.get("transition", [])]:
        files[spec["file"]] = sha256_file(root / spec["file"])
    ms = MappingSet(by_id, transitions, id=str(meta.get("id", "custom")),
                    version=str(meta.get("version", "unversioned")), root=root,
                    files=dict(sorted(files.items())), renames=renames, problems=extra,
                    application=meta.get("application", {}))
    _load_nesting(ms, meta, root, toml_path)
    return ms


def _load_nesting(ms: MappingSet, meta: dict, root: Path, toml_path: Path) -> None:
    """``[[nesting]]``: this mapping refines a coarser one (communes inside provinces); load
    the parent, keep it for name resolution, and add every edge that leaves its parent edge to
    the problems."""
    specs = meta.get("nesting", [])
    if not isinstance(specs, list):
        raise _meta_problem(toml_path, "nesting must be a table array written [[nesting]]")
    if not specs:
        return

    found = []
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("parent"), str):
            raise _meta_problem(toml_path, "every [[nesting]] needs 'parent' (a mapping directory)",
                                found=str(spec))
        parent = load_mappings((root / spec["parent"]).resolve())
        ms.__dict__["_parent_mappings"] = parent
        for rel, digest in parent.files.items():
            ms.files[f"{spec['parent']}/{rel}"] = digest
        found.extend(parent.problems)
        from mergetool.core.hierarchy import check_nesting

        found.extend(check_nesting(ms, spec, parent, toml_path))
    ms.files = dict(sorted(ms.files.items()))
    ms.problems = sorted([*ms.problems, *found], key=Problem.sort_key)


def _read_renames(path: Path, bases: dict[str, Basis]) -> pl.DataFrame:
    """Renames that keep a unit's code and territory: each old and new name must name that code
    on some basis, so a rename can never silently point at a different unit."""
    frame, _ = read_table(path)
    cols = require_columns(frame, path, {"code": ("code",), "old name": ("old_name",),
                                         "new name": ("new_name",)})
    log = ProblemLog()
    codes = []
    for row, raw, old, new in frame.select(ROW, cols["code"], cols["old name"],
                                           cols["new name"]).iter_rows():
        code = normalise_code(raw or "")
        codes.append(code)
        if code is None or not any(code in b.codes for b in bases.values()):
            log.add("unknown-unit", "the code is not a unit of any basis", file=str(path), row=row,
                    column=cols["code"], found=raw)
            continue
        for column, name in ((cols["old name"], old), (cols["new name"], new)):
            if not any(b.resolver.resolve(name or "") == code for b in bases.values()):
                log.add("unknown-unit", f"{name!r} does not name unit {code} on any basis",
                        file=str(path), row=row, column=column, found=name,
                        hint="a rename keeps the code; add the name to aliases.csv if it is a "
                        "spelling of that unit")
    log.raise_if_any(f"{path}: bad renames")
    return frame.with_columns(pl.Series(cols["code"], codes, dtype=pl.String)).drop(ROW)


def _read_aliases(path: Path, bases: dict[str, Basis]) -> None:
    frame, _ = read_table(path)
    if "code" in frame.columns:
        _read_code_aliases(path, frame, bases)
        return
    cols = require_columns(frame, path, {"canonical name": ("canonical_name",),
                                         "alias": ("alias",), "basis": ("basis",)})
    log = ProblemLog()
    for row, canonical, alias, basis_id in frame.select(
            ROW, cols["canonical name"], cols["alias"], cols["basis"]).iter_rows():
        targets: list[Basis | None] = list(bases.values()) if basis_id == "*" else [bases.get(basis_id)]
        if targets == [None]:
            log.add("unknown-basis", f"basis {basis_id!r} is not defined", file=str(path), row=row,
                    column=cols["basis"], expected=" or ".join([*bases, "*"]), found=basis_id)
            continue
        hits = [b.add_alias(alias, canonical) for b in targets if b is not None]
        if not any(hits):
            log.add("unknown-unit", f"canonical name {canonical!r} is not a unit of "
                    f"{basis_id if basis_id != '*' else 'any basis'}", file=str(path), row=row,
                    column=cols["canonical name"], found=canonical)
    log.raise_if_any(f"{path}: bad aliases")


def _read_aggregates(path: Path, bases: dict[str, Basis]) -> None:
    """Names that denote an aggregate of units (``name, meaning, basis``; basis ``*``: every
    basis): a row so named is refused with what it is, not with a unit it looks like."""
    frame, _ = read_table(path)
    cols = require_columns(frame, path, {"name": ("name",), "meaning": ("meaning",),
                                         "basis": ("basis",)})
    log = ProblemLog()
    for row, name, meaning, basis_id in frame.select(
            ROW, cols["name"], cols["meaning"], cols["basis"]).iter_rows():
        targets = list(bases.values()) if basis_id == "*" else \
            [bases[basis_id]] if basis_id in bases else []
        for col, text in ((cols["name"], name), (cols["meaning"], meaning)):
            if text is None or not text.strip():
                log.add("bad-mapping", f"empty {col}", file=str(path), row=row, column=col,
                        expected="a name" if col == cols["name"] else "what the name denotes, "
                        "e.g. 'the whole country (a national total or average)'")
        if not targets:
            log.add("unknown-basis", f"basis {basis_id!r} is not defined", file=str(path), row=row,
                    column=cols["basis"], expected=" or ".join([*bases, "*"]), found=basis_id)
            continue
        if not (name and name.strip() and meaning and meaning.strip()):
            continue
        for b in targets:
            code = b.resolver.resolve(name)
            if code is not None or b.resolver.codes_named(name):
                log.add("bad-mapping", f"aggregate name {name!r} is a unit name of {b.id}"
                        + (f" ({code} {b.name_of(code)})" if code else ""), file=str(path),
                        row=row, column=cols["name"], found=name,
                        hint="a name cannot denote both a unit and an aggregate: drop the row, "
                             "or give the aggregate's basis")
                continue
            b.resolver.add_aggregate(name, meaning.strip())
    log.raise_if_any(f"{path}: bad aggregates")


def _read_code_aliases(path: Path, frame: pl.DataFrame, bases: dict[str, Basis]) -> None:
    """Aliases keyed by code (``basis, code, alias``): for units whose names repeat, where a
    canonical name would not say which unit is meant."""

    require_columns(frame, path, {"basis": ("basis",), "code": ("code",), "alias": ("alias",)})
    log = ProblemLog()
    for row, basis_id in frame.filter(~pl.col("basis").is_in(list(bases))).select(
            ROW, "basis").iter_rows():
        log.add("unknown-basis", f"basis {basis_id!r} is not defined", file=str(path), row=row,
                column="basis", expected=" or ".join(bases), found=basis_id)
    for basis_id, part in frame.filter(pl.col("basis").is_in(list(bases))).group_by(
            "basis", maintain_order=True):
        basis = bases[str(basis_id[0])]
        for row, code in part.filter(~pl.col("code").is_in(list(basis.codes))).select(
                ROW, "code").iter_rows():
            log.add("unknown-unit", f"code {code!r} is not a unit of {basis.id}", file=str(path),
                    row=row, column="code", found=code)
        from mergetool.core.hierarchy import add_aliases

        add_aliases(basis, list(part.select("code", "alias").iter_rows()))
    log.raise_if_any(f"{path}: bad aliases")


def mapping_fingerprint(ms: MappingSet) -> str:
    """One SHA-256 over the mapping files' hashes: changes when any mapping file changes."""
    text = "\n".join(f"{k} {v}" for k, v in ms.files.items())
    return hashlib.sha256(text.encode()).hexdigest()


def find_units(ms: MappingSet, text: str | None, basis_id: str | None = None) -> list[UnitRef]:
    """The units a code or name denotes (on ``basis_id`` or on every basis); without ``text``,
    every unit formed from more than one predecessor."""
    if text is None:
        return sorted(n for n in ms.graph if ms.graph.in_degree(n) > 1)
    bases = [ms.basis(basis_id)] if basis_id else list(ms.bases.values())
    refs = [UnitRef(b.id, code) for b in bases if (code := ms.resolve(text, b.id)) is not None]
    if not refs:
        meaning = next((m for b in bases if (m := b.resolver.aggregate(text)) is not None), None)
        near = sorted({n for b in bases for n in b.resolver.suggest(text)})[:3]
        raise InputError.single(Problem(
            "unknown-unit", f"{text!r} is not a unit of {basis_id or 'any basis'}", found=text,
            hint=aggregate_hint(text, meaning) or did_you_mean(near)))
    return refs
