"""mergetool: reconcile statistics across administrative mergers.

The library is importable; the ``mergetool`` command is a thin layer over it. The names in
:data:`__all__` are the public API, loaded on first use (so ``mergetool --help`` stays fast and
importing a core module does not pull in the DTI application). Layers: see ARCHITECTURE.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # generic core: units, the mapping graph, rebasing, exact rounding, the independent oracle
    "MappingSet": "mergetool.core.mapping",
    "Transition": "mergetool.core.mapping",
    "load_mappings": "mergetool.core.mapping",
    "Basis": "mergetool.core.units",
    "RebaseResult": "mergetool.core.rebase",
    "rebase": "mergetool.core.rebase",
    "rebase_file": "mergetool.core.rebase",
    "encode_codes": "mergetool.core.rebase",
    "read_weights": "mergetool.core.rebase",
    "round_half_up": "mergetool.core.ranking",
    "competition_rank": "mergetool.core.ranking",
    "simple_rebase": "mergetool.core.oracle",
    "check_manifest": "mergetool.core.provenance",
    # reading and writing tables
    "Options": "mergetool.io.scores",
    "Catalogue": "mergetool.io.catalogue",
    "Indicator": "mergetool.io.catalogue",
    "read_table": "mergetool.io.tables",
    "write_frame": "mergetool.io.tables",
    # the DTI application
    "Spec": "mergetool.dti.spec",
    "spec_for": "mergetool.dti.spec",
    "read_scores": "mergetool.dti.spec",
    "gather_scores": "mergetool.dti.comparable",
    "gather_facts": "mergetool.dti.comparable",
    "BuildResult": "mergetool.dti.comparable",
    "build": "mergetool.dti.pipeline",
    "run_checks": "mergetool.dti.checks",
    "verify_files": "mergetool.dti.verify",
    "verify_shipped": "mergetool.dti.verify",
    "explain": "mergetool.dti.explain",
    # outputs
    "write_build": "mergetool.outputs.files",
    "write_report": "mergetool.outputs.files",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mergetool' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
