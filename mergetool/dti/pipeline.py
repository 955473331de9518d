"""The DTI build: scores of both bases -> the comparable table -> the checks, as one result."""

from __future__ import annotations

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.dti.checks import run_checks
from mergetool.dti.comparable import BuildResult, comparable_table, facts_for
from mergetool.dti.spec import Spec, spec_for


def build(scores: pl.DataFrame, mappings: MappingSet, *,
          methods: dict[str, str] | None = None, facts: pl.DataFrame | None = None,
          spec: Spec | None = None) -> BuildResult:
    """The comparable tables and checks from a score frame holding both bases.

    ``facts`` (default :func:`~mergetool.dti.comparable.facts_for` ``scores``): the published
    facts to check against. ``spec`` (default :func:`~mergetool.dti.spec.spec_for`
    ``mappings``): the two bases compared and the labels of the values.
    """
    mappings.require_valid()
    spec = spec_for(mappings) if spec is None else spec
    facts = facts_for(scores) if facts is None else facts
    if not spec.record:  # the shipped record's facts are of other units: never checked here
        facts = facts.filter(pl.col("origin") != "shipped")
    methods = methods or {"*": "mean"}
    comparable, rebased = comparable_table(scores, mappings, methods, facts, spec)
    checks = run_checks(comparable, scores, rebased, mappings, methods, facts, spec=spec)
    return BuildResult(comparable, checks, rebased.audit, scores, rebased, mappings, methods, facts,
                       spec)
