"""The DTI build: scores of both bases -> the comparable table -> the checks, as one result."""

from __future__ import annotations

import polars as pl

from mergetool.core.mapping import MappingSet
from mergetool.dti.checks import run_checks
from mergetool.dti.comparable import BuildResult, comparable_table, facts_for


def build(scores: pl.DataFrame, mappings: MappingSet, *,
          methods: dict[str, str] | None = None, facts: pl.DataFrame | None = None) -> BuildResult:
    """The comparable tables and checks from a score frame holding both bases.

    ``facts`` (default :func:`~mergetool.dti.comparable.facts_for` ``scores``): the published
    facts to check against.
    """
    mappings.require_valid()
    facts = facts_for(scores) if facts is None else facts
    methods = methods or {"*": "mean"}
    comparable, rebased = comparable_table(scores, mappings, methods, facts)
    checks = run_checks(comparable, scores, rebased, mappings, methods, facts)
    return BuildResult(comparable, checks, rebased.audit, scores, rebased, mappings, methods, facts)
