"""Manifests: what every output was computed from, with nothing that changes between runs.

A manifest names the tool version, the mapping set (id, version, every file's
SHA-256), each input file's SHA-256, the methods and options, and each output's
SHA-256. It carries no timestamps or durations, so identical inputs give
byte-identical manifests. :func:`check_manifest` re-hashes everything it names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from mergetool import __version__
from mergetool.errors import InputError, Problem
from mergetool.mapping import MappingSet, mapping_fingerprint
from mergetool.tables import sha256_file, write_text_atomic

MANIFEST_NAME = "manifest.json"


def _portable(path: Path, base: Path | None) -> str:
    """A path relative to ``base`` where possible, so manifests do not depend on the machine."""
    path = path.resolve()
    if base is not None:
        try:
            return path.relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return path.name if base is None else str(path)


def build_manifest(*, command: str, mappings: MappingSet, inputs: list[Path],
                   outputs: list[Path], options: dict[str, Any], base: Path | None = None,
                   shipped_inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """The manifest of one run (see module docstring)."""
    return {
        "tool": "mergetool",
        "tool_version": __version__,
        "command": command,
        "mappings": {
            "id": mappings.id,
            "version": mappings.version,
            "fingerprint": mapping_fingerprint(mappings),
            "files": mappings.files,
        },
        "inputs": [{"path": _portable(p, base), "sha256": sha256_file(p)} for p in inputs]
        + [{"path": f"shipped:{name}", "sha256": sha} for name, sha in
           sorted((shipped_inputs or {}).items())],
        "options": options,
        "outputs": [{"path": _portable(p, base), "sha256": sha256_file(p)} for p in outputs],
    }


def write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    write_text_atomic(target, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False)
                      + "\n")


def check_manifest(path: str | Path) -> pl.DataFrame:
    """Re-hash every output and input a manifest names: one row per file with its verdict."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest_path.is_file():
        raise InputError.single(Problem("missing-file", "no manifest here", file=str(manifest_path)))
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError.single(Problem("bad-file", f"not a JSON manifest ({exc})",
                                        file=str(manifest_path))) from None
    base = manifest_path.parent
    rows = []
    for role in ("outputs", "inputs"):
        for entry in data.get(role, []):
            name = entry["path"]
            if name.startswith("shipped:"):
                from mergetool.record import shipped_file_hashes

                now = shipped_file_hashes().get(name.removeprefix("shipped:"))
            else:
                p = Path(name) if Path(name).is_absolute() else base / name
                now = sha256_file(p) if p.is_file() else None
            verdict = "ok" if now == entry["sha256"] else ("missing" if now is None else "changed")
            rows.append((role.rstrip("s"), name, entry["sha256"], now, verdict))
    return pl.DataFrame(rows, schema={"role": pl.String, "path": pl.String, "recorded": pl.String,
                                      "current": pl.String, "verdict": pl.String}, orient="row")
