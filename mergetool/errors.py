"""One error model: input problems are records, collected and raised together.

A :class:`Problem` says where (file, row, column), what (a stable kebab-case
``code``), what was expected, what was found and how to fix it. Loaders collect
every problem they can find before raising one :class:`InputError`, so a user
fixes a file in one pass instead of one error per run.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first
data row is row 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

#: Every problem code the tool can report, with a one-line meaning (documented in README).
PROBLEM_CODES: dict[str, str] = {
    "ambiguous-basis": "the table's units exist on more than one basis; declare the basis",
    "ambiguous-delimiter": "the delimiter and decimal separator cannot be told apart",
    "ambiguous-number": "a grouped number such as 1,051 that may be 1051 or 1.051",
    "ambiguous-sheet": "the workbook has several sheets and none was chosen",
    "ambiguous-unit": "a unit name that denotes several units (give its province/district or code)",
    "bad-cell": "a spreadsheet cell holding an error value or a formula without a calculated value",
    "bad-code": "a unit code that is not a short string of digits",
    "bad-file": "the file cannot be read as a table",
    "bad-manifest": "a manifest that is not a mergetool manifest or lacks what it must name",
    "bad-mapping": "the mapping metadata is malformed",
    "bad-number": "a value that is not a number",
    "bad-option": "a command-line option with an unusable value",
    "bad-year": "a year that is not a whole number in range",
    "basis-not-compared": "values on a basis of the mapping that the build does not compare",
    "cycle": "the mapping graph contains a cycle",
    "duplicate-row": "the same unit appears twice for one key",
    "empty-file": "the file has no data rows",
    "missing-column": "a required column is absent",
    "missing-file": "a file that does not exist",
    "missing-share": "a divided unit without real shares, for the sum or weighted method",
    "missing-weight": "a predecessor without a weight, for the weighted method",
    "zero-weight": "a weighted mean whose weights x shares sum to 0 or less",
    "mixed-basis": "units from different bases in one table",
    "nesting": "a fine-level edge that leaves the coarse-level edge containing it",
    "no-path": "no chain of transitions links two bases",
    "no-predecessor": "a unit of the new basis that no row maps into",
    "no-values": "the file contributes no values",
    "not-a-number": "NaN or infinite value",
    "number-not-exact": "a number (or weight, or sum) too large, small or precise to be held exactly",
    "output-clash": "two outputs of one run resolve to the same file",
    "output-exists": "an output file exists and --force was not given",
    "output-format": "an output suffix that names no supported format",
    "output-is-input": "an output path equals an input path",
    "output-locked": "another mergetool run is writing to the same output directory",
    "output-unwritable": "an output that cannot be written (directory, under a file, read-only, full)",
    "partial-value": "a value its producing run marked partial (computed from only some predecessors)",
    "share-sum": "a predecessor's shares do not sum to 1",
    "unit-mismatch": "a row whose code and name denote different units",
    "unknown-basis": "a basis id not defined in the mappings",
    "unknown-column": "a column heading that is neither an indicator nor a known descriptive column",
    "unknown-indicator": "an indicator name that is not known",
    "unknown-sheet": "the named sheet is not in the workbook",
    "unknown-unit": "a unit code or name not on its basis",
    "unmapped-unit": "a unit of the old basis that no row maps from",
    "value-out-of-range": "a value outside the index's range [0, 1]",
    "year-out-of-range": "a year outside the data's range",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows."""

    code: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code not in PROBLEM_CODES:
            raise ValueError(f"unregistered problem code {self.code!r}")

    @property
    def location(self) -> str:
        """``file, row N, column C`` with whatever parts are known."""
        parts = [self.file or "<input>"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.file or "", self.row or 0, self.column or "", self.code)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message} [{self.code}]"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found!r}"
        if self.hint:
            text += f". Hint: {self.hint}"
        return text


#: The exit codes, one place: 0 ok, 1 checks or verification found problems, 2 bad input or usage.
EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


class MergetoolError(Exception):
    """Base of every error the tool raises on purpose (bad input, bad usage)."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: list[Problem] = sorted(problems, key=Problem.sort_key)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class Detail(TypedDict, total=False):
    """The optional fields of a :class:`Problem` but its file, as keyword arguments."""

    row: int | None
    column: str | None
    expected: str | None
    found: str | None
    hint: str | None


class Where(Detail, total=False):
    """The optional fields of a :class:`Problem`, as keyword arguments (``**where``)."""

    file: str | None


class InFile(TypedDict):
    """Only the file, for a ``**where`` that several problems of one file share."""

    file: str | None


class InputError(MergetoolError):
    """One or more input files are unusable; ``problems`` lists every reason found."""

    @classmethod
    def single(cls, problem: Problem) -> InputError:
        return cls(problem.message, [problem])


class UsageError(MergetoolError):
    """A command was called with options that cannot work together."""


@dataclass
class ProblemLog:
    """Collects problems while loading; :meth:`raise_if_any` raises them together."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, **where: Unpack[Where]) -> None:
        self.problems.append(Problem(code, message, **where))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, summary: str) -> None:
        if self.problems:
            n = len(self.problems)
            raise InputError(f"{summary}: {n} problem{'s' if n != 1 else ''}", self.problems)
