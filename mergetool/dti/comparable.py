"""The comparable tables: every year on the 34-unit basis, ranked, with a reason for every gap.

For each year of the index, unit of the target basis and indicator, the value is
the one published on the target basis if there is one (``published-34``),
otherwise the mean of the predecessors' values when every predecessor has one
(``rebased-from-63``); otherwise the cell stays empty and says why. Ranks are
recomputed (competition ranking on 4 decimals) only where all units of the year
have a value; otherwise the published target-basis rank is shown where one
exists (``published``; a rank in the user's file only where none is published:
``given``). Nothing is filled in.

``value`` is rounded half-up to 4 decimals (as the ministry prints and ranks);
``value_exact`` keeps the exact mean. A user's file replaces shipped *values*
only: every published value, rank and tie stays in :attr:`BuildResult.facts`,
and the checks test the build against all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.core.provenance import input_labels
from mergetool.core.ranking import competition_rank, exact, rank_change, round_half_up
from mergetool.core.rebase import RebaseResult, rebase
from mergetool.dti.indicators import INDICATOR_IDS
from mergetool.dti.record import SHIPPED_FILE, index_definitions, read_record, record_as_scores
from mergetool.dti.spec import BUILD_OPTIONS, SOURCE_BASIS, TARGET_BASIS, Spec, spec_for
from mergetool.errors import InputError, Problem, UsageError
from mergetool.io.schema import Options

COMPARABLE_COLUMNS = ("year", "code", "unit_name", "indicator", "value", "value_exact", "rank",
                      "rank_source", "rank_change", "rank_change_basis", "value_basis",
                      "predecessors_expected", "predecessors_with_value", "status", "reason")

#: Published facts a build is checked against: values, ranks (a range: ``rank_low``..``rank_high``)
#: and how each was known, from the shipped record and from rank columns of the user's files.
FACTS_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(), "basis": pl.String(), "code": pl.String(), "indicator": pl.String(),
    "value": pl.Float64(), "decimals": pl.Int32(), "value_origin": pl.String(),
    "rank": pl.Int32(), "rank_low": pl.Int32(), "rank_high": pl.Int32(), "rank_basis": pl.String(),
    "source": pl.String(), "origin": pl.String(),
}


def record_facts(record: pl.DataFrame | None = None) -> pl.DataFrame:
    """The shipped record as facts (:data:`FACTS_SCHEMA`); ``source`` is the source URL(s)."""
    rec = read_record() if record is None else record
    return rec.with_columns(source=pl.col("source_url"), origin=pl.lit("shipped")).select(
        FACTS_SCHEMA.keys())


def file_labels(scores: pl.DataFrame) -> dict[str, str]:
    """How outputs cite each file of a score frame: one labelling for the whole build
    (:func:`~mergetool.core.provenance.input_labels`, the same wherever the files lie)."""
    return input_labels(scores["file"].unique().to_list() if "file" in scores.columns else [])


def user_rank_facts(scores: pl.DataFrame) -> pl.DataFrame:
    """Ranks given in the user's own files: facts too (``rank_basis`` ``user-file``)."""
    mine = scores.filter((pl.col("file") != SHIPPED_FILE) & pl.col("rank").is_not_null())
    mine = mine.with_columns(file=pl.col("file").replace_strict(file_labels(scores),
                                                                return_dtype=pl.String))
    return mine.select(
        "year", "basis", "code", "indicator", value=pl.lit(None, pl.Float64),
        decimals=pl.lit(None, pl.Int32), value_origin=pl.lit(None, pl.String), rank="rank",
        rank_low="rank", rank_high="rank", rank_basis=pl.lit("user-file"),
        source=pl.format("{} row {}", "file", "row"), origin=pl.lit("user"))


def gather_facts(scores: pl.DataFrame, *, replace: bool = False,
                 spec: Spec | None = None) -> pl.DataFrame:
    """The facts for a build of :func:`gather_scores` output: every shipped fact plus the user's
    ranks. ``replace`` (only the user's files supply values) changes nothing here: the shipped
    record's values, ranks and ties are published facts, and a build is always checked against
    them, unless ``spec`` says the record does not apply (another mapping's units)."""
    del replace  # the values come from the user's files only; the facts never do
    if spec is not None and not spec.record:
        return user_rank_facts(scores)
    return pl.concat([record_facts(), user_rank_facts(scores)])


def facts_for(scores: pl.DataFrame) -> pl.DataFrame:
    """The facts a build of ``scores`` is checked against.

    When the scores include the shipped record (any row from it), every shipped fact counts,
    also those whose values the user replaced; ranks in the user's files are added.
    """
    parts = [user_rank_facts(scores)]
    if scores.height and (scores["file"] == SHIPPED_FILE).any():
        parts.insert(0, record_facts())
    return pl.concat(parts)


def carried_keys(scores: pl.DataFrame) -> set[tuple[int, str, str, str]]:
    """Keys of shipped values that were carried over from the 34-unit table (not printed);
    empty when no score row is from the shipped record."""
    rec = read_record().filter(pl.col("value_origin") == "carried-from-34-basis")
    keys = {(y, b, c, i) for y, b, c, i in rec.select("year", "basis", "code", "indicator").iter_rows()}
    shipped = scores.filter(pl.col("file") == SHIPPED_FILE)
    return {k for k in shipped.select("year", "basis", "code", "indicator").iter_rows() if k in keys}


@dataclass
class BuildResult:
    """The comparable table, the checks, the audit of rebased values, and what went in."""
    comparable: pl.DataFrame
    checks: pl.DataFrame
    audit: pl.DataFrame
    scores: pl.DataFrame
    rebased: RebaseResult
    mappings: MappingSet
    methods: dict[str, str] = field(default_factory=dict)
    facts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FACTS_SCHEMA))
    #: The bases and labels of the build (default: :func:`~mergetool.dti.spec.spec_for` mappings).
    spec: Spec = None  # type: ignore[assignment]  # None only until __post_init__ sets it

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = spec_for(self.mappings)

    @property
    def record_used(self) -> bool:
        """Whether any value or fact of the shipped public record went into the build."""
        return self.spec.record and bool(
            (self.scores.height and (self.scores["file"] == SHIPPED_FILE).any())
            or (self.facts.height and (self.facts["origin"] == "shipped").any()))


def gather_scores(mappings: MappingSet, files: list[Path] | tuple[Path, ...] = (),
                  *, replace: bool = False, basis: str | None = None,
                  sheet: str | None = None, header_row: int | None = None,
                  options: Options = BUILD_OPTIONS, spec: Spec | None = None) -> pl.DataFrame:
    """The shipped record plus (or, with ``replace``, instead of) the user's score files.

    A user value replaces a shipped *value* for the same year, basis, unit and indicator; the
    shipped facts (values, ranks, ties) stay facts that :func:`build` checks (:func:`facts_for`).
    On a mapping the shipped record does not apply to (``spec.record`` false) the values come
    from the user's files only, and ``replace`` must say so: without it the build is refused.
    """
    spec = spec_for(mappings) if spec is None else spec
    if not replace and not spec.record:
        raise UsageError(
            f"the shipped DTI record is of {SOURCE_BASIS} -> {TARGET_BASIS}, not of this mapping "
            f"({spec.source} -> {spec.target}): give your values with --scores FILE ... --replace",
            [Problem("bad-option", "the public DTI record applies to the shipped mapping only",
                     file=str(mappings.root or "<memory>"), column="--replace",
                     expected="--scores FILE (repeatable) and --replace",
                     found="--scores given without --replace" if files else "no --scores",
                     hint="the build then reads values, ranks and facts from your files only")])
    frames = [] if replace else [record_as_scores(read_record())]
    if files:  # the readers are loaded only for files to read
        from mergetool.io.scores import read_scores, year_from_name
    user = [read_scores(p, mappings, basis=basis, default_year=year_from_name(p), sheet=sheet,
                        header_row=header_row, mixed_bases=True, options=options)
            for p in files]
    if user:
        theirs = pl.concat(user)
        problems = []
        dup = theirs.filter(pl.struct("year", "basis", "code", "indicator").is_duplicated())
        for (year, b, code), grp in dup.group_by("year", "basis", "code", maintain_order=True):
            inds = ", ".join(grp["indicator"].unique(maintain_order=True).to_list())
            sources = sorted(set(grp["file"]))
            where = (f"{sources[0]} is given twice" if len(sources) == 1 and len(sources) < len(user)
                     else "the files overlap")
            problems.append(Problem(  # one problem per unit and year, not one per indicator
                "duplicate-row", f"{year} {inds} for unit {code}@{b} given more than once ({where})",
                file=" and ".join(sources), row=int(grp["row"][-1]),
                hint="supply each year and basis in one file only"))
        if problems:
            raise InputError("the score files overlap", problems)
        _refuse_other_bases(theirs, spec)
        keys = ["year", "basis", "code", "indicator"]
        # An empty cell is no value: it never erases a shipped one (where the record has that
        # cell, the published value and rank stand); only cells with a value replace.
        given = theirs.filter(pl.col("value").is_not_null())
        blank = theirs.filter(pl.col("value").is_null())
        for f in frames:
            blank = blank.join(f.select(keys), on=keys, how="anti")
        frames = [f.join(given, on=keys, how="anti") for f in frames] + [given, blank]
    scores = pl.concat(frames) if frames else pl.DataFrame()
    _check_years(scores)
    return scores


def _refuse_other_bases(theirs: pl.DataFrame, spec: Spec) -> None:
    """Values on a basis of the mapping that is neither the build's old nor its new one (the
    middle basis of a chain) would be read and then used nowhere: refused, naming the two."""
    other = theirs.filter(~pl.col("basis").is_in([spec.source, spec.target])
                          & pl.col("value").is_not_null())
    if other.height:
        raise InputError("values on a basis the build does not compare", [Problem(
            "basis-not-compared", f"values on {b}, which this build neither rebases nor "
            f"publishes ({spec.source} -> {spec.target})", file=f, row=int(r), column="basis",
            expected=f"{spec.source} or {spec.target}", found=b,
            hint="rebase the values to one of those bases first (mergetool rebase --to), or "
            "declare the bases in mapping.toml's [application] table")
            for b, f, r in other.select("basis", "file", "row").unique(
                subset=["basis", "file"], keep="first", maintain_order=True).iter_rows()])


def _check_years(scores: pl.DataFrame) -> None:
    defs = index_definitions()
    known = set(defs["year"])
    bad = scores.filter(~pl.col("year").is_in(sorted(known)))
    if bad.height:
        raise InputError("years outside the index", [Problem(
            "year-out-of-range", f"no DTI definition for {year}", file=f, row=int(r),
            column="year", expected=f"{min(known)}-{max(known)}", found=str(year),
            hint="the index definitions (data/dti/index_definitions.csv) cover these years only")
            for year, f, r in bad.select("year", "file", "row").unique(
                subset=["year", "file"], keep="first", maintain_order=True).iter_rows()])


def comparable_table(scores: pl.DataFrame, mappings: MappingSet, methods: dict[str, str],
                     facts: pl.DataFrame, spec: Spec | None = None
                     ) -> tuple[pl.DataFrame, RebaseResult]:
    """The comparable table (:data:`COMPARABLE_COLUMNS`) of a score frame holding both bases,
    and the rebase of its old-basis values it was built from (checks: :mod:`mergetool.dti.pipeline`).
    ``spec`` (default :func:`~mergetool.dti.spec.spec_for` ``mappings``): the two bases.
    """
    spec = spec_for(mappings) if spec is None else spec
    target = mappings.basis(spec.target)
    old = scores.filter((pl.col("basis") == spec.source) & pl.col("value").is_not_null())
    rebased = rebase(old, mappings, spec.target, methods=methods, policy="strict",
                     from_basis=spec.source)
    # A rank in the user's file never shows as the published one: the shipped rank comes first
    # (a user rank that contradicts it is a published-ranks failure), the user's is ``given``.
    shipped_row = pl.col("file") == SHIPPED_FILE
    published = scores.filter(pl.col("basis") == spec.target).select(
        "year", "code", "indicator", pub_value="value",
        shipped_rank=pl.when(shipped_row).then(pl.col("rank")),
        user_rank=pl.when(~shipped_row).then(pl.col("rank")))
    pub_ranks = facts.filter((pl.col("basis") == spec.target) & pl.col("rank").is_not_null()
                             & (pl.col("origin") == "shipped")).select(
        "year", "code", "indicator", fact_rank="rank").unique(["year", "code", "indicator"],
                                                              keep="first")
    defs = index_definitions()
    transition = mappings.composed(spec.source, spec.target)  # a chain of reforms as one
    expected = transition.predecessors().select(
        code="to_code", predecessors_expected=pl.col("from_code").list.len().cast(pl.Int32),
        predecessors=pl.col("from_code"))
    cells = (pl.DataFrame({"year": sorted(set(defs["year"]))}, schema={"year": pl.Int32})
             .join(pl.DataFrame({"indicator": list(INDICATOR_IDS)}), how="cross")
             .join(target.units.select("code", unit_name="name"), how="cross")
             .join(defs.select("year", "indicator", "methodology"), on=["year", "indicator"],
                   how="left")
             .join(expected, on="code", how="left")
             .join(published, on=["year", "code", "indicator"], how="left")
             .join(pub_ranks, on=["year", "code", "indicator"], how="left")
             .with_columns(shipped_rank=pl.coalesce("fact_rank", "shipped_rank"))
             .with_columns(pub_rank=pl.coalesce("shipped_rank", "user_rank"),
                           pub_rank_source=pl.when(pl.col("shipped_rank").is_not_null())
                           .then(pl.lit("published")).otherwise(pl.lit("given")))
             .join(rebased.values.select("year", "code", "indicator", reb_value="value",
                                         reb_exact="value_exact",
                                         reb_status="status", n_used="n_used", missing="missing"),
                   on=["year", "code", "indicator"], how="left"))
    names = mappings.bases[spec.source].units.select(pl.col("code").alias("m"), "name")
    name_of = dict(names.iter_rows())
    # A Python loop over the column, not map_elements (which inspects the function's bytecode).
    missing_named = pl.Series([", ".join(f"{c} {name_of.get(c, '?')}" for c in s.split()) if s else ""
                               for s in cells["missing"].to_list()], dtype=pl.String)
    cells = cells.with_columns(
        missing_named=missing_named,
        predecessors_with_value=pl.col("n_used").fill_null(0).cast(pl.Int32),
    )
    defined = pl.col("methodology").is_not_null()
    has_pub = pl.col("pub_value").is_not_null()
    has_reb = pl.col("reb_status") == "ok"
    exact_value = (pl.when(defined & has_pub).then(exact("pub_value"))
                   .when(defined & has_reb).then(pl.col("reb_exact")))
    cells = cells.with_columns(
        value_exact=exact_value,
        value=round_half_up(exact_value).cast(pl.Float64),
        value_basis=pl.when(defined & has_pub).then(pl.lit(spec.published_target))
        .when(defined & has_reb).then(pl.lit(spec.rebased)),
    ).with_columns(
        status=pl.when(~defined).then(pl.lit("not-comparable"))
        .when(pl.col("value").is_not_null()).then(pl.lit("ok"))
        .otherwise(pl.lit("incomplete")),
        reason=pl.when(~defined).then(
            pl.format("indicator not in the {} index", pl.col("year")))
        .when(pl.col("value").is_not_null()).then(pl.lit(""))
        .when(pl.col("predecessors_with_value") == 0).then(
            pl.lit("no published value on either basis"))
        .otherwise(pl.format("missing predecessors: {}", pl.col("missing_named"))),
    )
    cells = _rank(cells, spec.target)
    comparable = cells.with_columns(
        _o=pl.col("indicator").replace_strict({k: i for i, k in enumerate(INDICATOR_IDS)})
    ).sort("year", "_o", "code").select(COMPARABLE_COLUMNS)
    return comparable, rebased


def _rank(cells: pl.DataFrame, target: str) -> pl.DataFrame:
    group = ["year", "indicator"]
    n_units = cells["code"].n_unique()
    complete = pl.col("value").is_not_null().sum().over(group) == n_units
    cells = cells.with_columns(
        rank=pl.when(complete).then(competition_rank("value").over(group))
        .when(pl.col("pub_rank").is_not_null() & pl.col("methodology").is_not_null())
        .then(pl.col("pub_rank")),
    ).with_columns(
        rank_source=pl.when(pl.col("rank").is_null()).then(None)
        .when(complete).then(pl.lit("computed")).otherwise(pl.col("pub_rank_source")),
    )
    prev = cells.select(pl.col("year") + 1, "indicator", "code", previous_rank="rank",
                        previous_source="rank_source")
    return cells.join(prev, on=["year", "indicator", "code"], how="left").with_columns(
        rank_change=rank_change()).with_columns(
        # Both ranks are ranks among the 34 units: computed from the comparable values, or
        # published on the 34-unit basis.
        rank_change_basis=pl.when(pl.col("rank_change").is_not_null()).then(pl.format(
            "{} ({} {} -> {} {})", pl.lit(target), pl.col("year") - 1,
            "previous_source", "year", "rank_source")))
