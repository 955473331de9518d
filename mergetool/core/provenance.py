"""Manifests: what every output was computed from, with nothing that changes between runs.

A manifest names the tool version, the mapping set (id, version, where it is and every file's
SHA-256), each input file's SHA-256, the methods and options, and each output's SHA-256. Paths are
portable: relative to the manifest's directory (POSIX separators), the shipped record and shipped
mappings as ``shipped``; never an absolute machine path. No timestamps or durations: the same
inputs, placed the same way relative to the output directory, give byte-identical manifests
wherever the tree lies. :func:`check_manifest` re-hashes every output, input and mapping file it
names, and says when a directory holds a mixed set (files of different runs).

:func:`write_set` writes a run's outputs and its manifest as one set (:class:`~mergetool.io.tables.
OutputSet`): staged, locked, renamed into place together, the manifest last.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Unpack

import polars as pl

from mergetool import __version__
from mergetool.core.mapping import (
    MappingSet,
    mapping_fingerprint,
    shipped_mapping_names,
    shipped_mappings_dir,
)
from mergetool.errors import Detail, InputError, Problem
from mergetool.io.tables import (
    OUTPUT_SUFFIXES,
    STAGING_PREFIX,
    OutputSet,
    check_outputs,
    output_format,
    sha256_file,
    write_text_atomic,
)

MANIFEST_NAME = "manifest.json"
SHIPPED = "shipped:"  # + the shipped mapping's name, e.g. ``shipped:vn-2025``


def _portable(path: Path, base: Path | None) -> str:
    """``path`` relative to ``base`` (the manifest's directory), POSIX-style; the name without base."""
    if base is None:
        return Path(path).name
    try:
        rel = os.path.relpath(Path(path).absolute(), Path(base).absolute())
    except ValueError:  # another drive (Windows): only the name is portable
        return Path(path).name
    return Path(rel).as_posix()


def input_labels(paths: Collection[str]) -> dict[str, str]:
    """Names for input files that do not depend on where the files lie, for outputs to cite:
    each path relative to the directory holding all of them (one file: its name), POSIX-style.

    Names that are not paths (``<memory>``, ``shipped:...``) stay as they are. So the same
    inputs placed elsewhere give the same outputs, and two inputs never share a label.
    """
    real = sorted({p for p in paths if not (p.startswith("<") or p.startswith(SHIPPED))})
    labels = {p: p for p in paths}
    if not real:
        return labels
    absolute = [os.path.abspath(p) for p in real]
    try:
        common = os.path.commonpath([os.path.dirname(a) for a in absolute])
    except ValueError:  # another drive (Windows): the names, unless two coincide
        names = [Path(p).name for p in real]
        return labels | {p: n if names.count(n) == 1 else p for p, n in zip(real, names, strict=True)}
    return labels | {p: Path(os.path.relpath(a, common)).as_posix()
                     for p, a in zip(real, absolute, strict=True)}


def _mapping_root(mappings: MappingSet, base: Path | None) -> str | None:
    if mappings.root is None:
        return None
    here = Path(mappings.root).resolve()
    for name in shipped_mapping_names():
        if here == shipped_mappings_dir(name).resolve():
            return SHIPPED + name
    return _portable(Path(mappings.root), base)


def build_manifest(*, command: str, mappings: MappingSet, inputs: list[Path],
                   outputs: list[Path], options: dict[str, Any], base: Path | None = None,
                   shipped_inputs: dict[str, str] | None = None,
                   staged: Callable[[Path], Path] | None = None) -> dict[str, Any]:
    """The manifest of one run (see module docstring).

    ``staged`` maps an output to the file holding its bytes now (its staging path), if not there.
    """
    where = staged or (lambda p: p)
    return {
        "tool": "mergetool",
        "tool_version": __version__,
        "command": command,
        "mappings": {
            "id": mappings.id,
            "version": mappings.version,
            "root": _mapping_root(mappings, base),
            "fingerprint": mapping_fingerprint(mappings),
            "files": mappings.files,
        },
        "inputs": [{"path": _portable(p, base), "sha256": sha256_file(p)} for p in inputs]
        + [{"path": f"shipped:{name}", "sha256": sha} for name, sha in
           sorted((shipped_inputs or {}).items())],
        "options": options,
        "outputs": [{"path": _portable(p, base), "sha256": sha256_file(where(p))} for p in outputs],
    }


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    write_text_atomic(target, manifest_text(manifest))


# --- writing a set --------------------------------------------------------------------------------

def recorded_outputs(manifest_path: Path) -> dict[str, str] | None:
    """Real path -> SHA-256 of every output a mergetool manifest at ``manifest_path`` records;
    ``None`` if there is no readable mergetool manifest there."""
    try:
        if not manifest_path.is_file():
            return None
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "mergetool":
        return None
    owned: dict[str, str] = {}
    entries = data.get("outputs")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) \
                and isinstance(entry.get("sha256"), str):
            try:
                owned[os.path.realpath(manifest_path.parent / entry["path"])] = entry["sha256"]
            except ValueError:  # a NUL byte: names no file
                continue
    return owned


def sibling_manifest(output: Path, option: str = "-o") -> Path:
    """``<output>.manifest.json``, the manifest of a single-file output; refuses a directory name."""
    try:
        is_dir = output.is_dir()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError.single(Problem(
            "output-unwritable", f"{option}: the output path cannot be used: {reason}",
            file=str(output)[:200], column=option, hint="choose a shorter or simpler output path"),
        ) from None
    if output.name in ("", ".", "..") or is_dir:
        raise InputError.single(Problem(
            "output-unwritable", f"{option} names a directory, not a file", file=str(output),
            column=option, hint=f"name a file, e.g. {output / 'out.csv'}"))
    return output.with_name(output.name + ".manifest.json")


def plan_outputs(outputs: list[Path], manifest_path: Path, inputs: list[Path], force: bool,
                 labels: list[str] | None = None, set_names: Collection[str] = ()) -> list[Path]:
    """Check a run's outputs (and its manifest) before any work; returns the stale files to remove.

    A previous run's outputs, named by the mergetool manifest at ``manifest_path`` and unchanged
    since, are rebuilt in place; any other existing file needs ``force``. Stale files are those the
    old manifest lists that this run does not write and that still have their recorded hash, and
    only those named in ``set_names`` (the file names of the application's output directory).
    """
    owned: dict[str, set[str]] | None = None
    recorded = recorded_outputs(manifest_path)
    if recorded is not None:
        owned = {real: {sha} for real, sha in recorded.items()}
        owned[os.path.realpath(manifest_path)] = {sha256_file(manifest_path)}
    # A run killed while swapping its set in leaves its manifest staged (it is renamed last): the
    # files it had already moved are mergetool's too, and are rebuilt in place.
    base = os.path.realpath(manifest_path.parent)
    try:
        leftovers = sorted(manifest_path.parent.glob(STAGING_PREFIX + "*"))
    except OSError:
        leftovers = []
    for staging in leftovers:
        interrupted = recorded_outputs(staging / manifest_path.name) or {}
        for real, sha in interrupted.items():
            final = os.path.normpath(os.path.join(base, os.path.relpath(real, os.path.realpath(staging))))
            owned = owned if owned is not None else {}
            owned.setdefault(final, set()).add(sha)
    check_outputs([*outputs, manifest_path], inputs, force, owned=owned,
                  labels=[*(labels or map(str, outputs)), f"the manifest {manifest_path}"])
    if manifest_path.name != MANIFEST_NAME:
        return []
    # Only a build directory's own file names are ever removed, whatever a manifest lists.
    writing = {os.path.realpath(p) for p in (*outputs, manifest_path)}
    stale = []
    for real, sha in (recorded or {}).items():
        p = Path(real)
        if real not in writing and p.name in set_names and str(p.parent) == base \
                and p.is_file() and sha256_file(p) == sha \
                and not any(os.path.realpath(i) == real for i in inputs):
            stale.append(p)
    return sorted(stale)


def preflight(outputs: list[tuple[Path, str]], manifest_path: Path | None, inputs: list[Path],
              force: bool, accepted: tuple[str, ...] | None = None) -> list[Path]:
    """Every problem with a run's outputs at once, before any work: suffixes (``outputs`` pairs a
    path with the option that named it), clashes, inputs, placement, foreign files. Returns the
    stale files to remove (see :func:`plan_outputs`)."""
    problems: list[Problem] = []
    for path, option in outputs:
        try:
            output_format(path, option, accepted or tuple(OUTPUT_SUFFIXES))
        except InputError as exc:
            problems += exc.problems
    stale: list[Path] = []
    try:
        if manifest_path is None:
            check_outputs([p for p, _ in outputs], inputs, force,
                          labels=[f"{opt} {p}" for p, opt in outputs])
        else:
            labels = [f"{opt} {p}" for p, opt in outputs]
            stale = plan_outputs([p for p, _ in outputs], manifest_path, inputs, force, labels)
    except InputError as exc:
        problems += exc.problems
    if problems:
        n = len(problems)
        raise InputError(f"refusing to write outputs: {n} problem{'s' if n != 1 else ''}", problems)
    return stale


def write_set(outputs: dict[Path, Callable[[Path], None]], manifest_path: Path,
              manifest_of: Callable[[Callable[[Path], Path]], dict[str, Any]], *,
              stale: list[Path] | None = None, lock_timeout: float | None = None) -> None:
    """Write every output (``writer(staging_path)``), then the manifest, and swap them in as a set.

    ``manifest_of(staged)`` builds the manifest once every output is staged; ``staged(p)`` is
    where output ``p``'s bytes are until the swap.
    """
    with OutputSet([*outputs, manifest_path], stale=stale, lock_timeout=lock_timeout) as out:
        for target, writer in outputs.items():
            writer(out.stage(target))
        out.stage(manifest_path).write_text(manifest_text(manifest_of(out.stage)),
                                            encoding="utf-8", newline="\n")


# --- checking -------------------------------------------------------------------------------------

def _bad(path: Path, message: str, **kw: Unpack[Detail]) -> InputError:
    kw.setdefault("hint", "check manifests a mergetool run wrote "
                          "(manifest.json or <output>.manifest.json)")
    return InputError.single(Problem("bad-manifest", message, file=str(path), **kw))


def read_manifest(manifest_path: Path) -> dict[str, Any]:
    """A manifest's contents, validated: a JSON object from mergetool naming at least one output,
    each entry with a string ``path`` and a 64-hex ``sha256``. Anything else is ``bad-manifest``."""
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise _bad(manifest_path, f"cannot read the manifest ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(manifest_path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(manifest_path, f"not valid JSON ({exc.msg})", row=exc.lineno) from None
    except RecursionError:
        raise _bad(manifest_path, "not a manifest: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise _bad(manifest_path, f"a manifest is a JSON object, found a JSON {type(data).__name__}",
                   expected="{\"tool\": \"mergetool\", \"outputs\": [...], ...}")
    if data.get("tool") != "mergetool":
        raise _bad(manifest_path, "not a mergetool manifest (no \"tool\": \"mergetool\")",
                   found=str(data.get("tool")))
    problems = []
    for role in ("outputs", "inputs"):
        entries = data.get(role, [] if role == "inputs" else None)
        if not isinstance(entries, list):
            problems.append(Problem("bad-manifest", f"{role!r} must be a list of entries",
                                    file=str(manifest_path), column=role,
                                    found=type(entries).__name__ if entries is not None else "absent"))
            continue
        for i, entry in enumerate(entries):
            where = f"{role}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) \
                    or not entry["path"]:
                problems.append(Problem("bad-manifest", f"{where} has no \"path\"",
                                        file=str(manifest_path), column=where,
                                        expected="{\"path\": ..., \"sha256\": ...}",
                                        found=json.dumps(entry, ensure_ascii=False)[:60]))
            elif not _is_sha(entry.get("sha256")):
                problems.append(Problem("bad-manifest", f"{where} has no valid \"sha256\"",
                                        file=str(manifest_path), column=where,
                                        expected="64 hex digits", found=str(entry.get("sha256"))))
    if not problems and not data["outputs"]:
        problems.append(Problem("bad-manifest", "the manifest names no outputs: nothing to check",
                                file=str(manifest_path), column="outputs"))
    mapping = data.get("mappings")
    if mapping is not None and not (isinstance(mapping, dict)
                                    and isinstance(mapping.get("files", {}), dict)
                                    and all(_is_sha(v) for v in mapping.get("files", {}).values())):
        problems.append(Problem("bad-manifest", "\"mappings\" must hold \"files\": {name: sha256}",
                                file=str(manifest_path), column="mappings"))
    if problems:
        raise InputError(f"{manifest_path}: not a usable manifest", problems)
    return data


def _is_sha(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _hash_or_none(p: Path) -> str | None:
    try:
        return sha256_file(p) if p.is_file() else None
    except (OSError, ValueError):  # unreadable, a name too long, a NUL byte in a recorded path
        return None


def check_manifest(path: str | Path, *, set_names: Collection[str] = (),
                   shipped_hashes: Callable[[], dict[str, str]] | None = None) -> pl.DataFrame:
    """Re-hash every output, input and mapping file a manifest names: one row per file.

    Verdicts: ``ok``, ``changed``, ``missing``; ``unlisted`` for a file named in ``set_names`` (the
    application's output directory) lying beside a ``manifest.json`` that does not name it (a file
    of another run). Any verdict but ``ok`` means the directory is not the one consistent set the
    manifest describes. ``shipped_hashes`` gives the current hash of each ``shipped:`` input.
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest_path.is_file():
        raise InputError.single(Problem("missing-file", "no manifest here", file=str(manifest_path),
                                        hint="give the output directory or the manifest file"))
    data = read_manifest(manifest_path)
    base = manifest_path.parent

    def locate(name: str) -> Path:
        return Path(name) if Path(name).is_absolute() else base / name

    rows = []
    for role in ("outputs", "inputs"):
        for entry in data.get(role, []):
            name = entry["path"]
            if name.startswith("shipped:"):
                now = (shipped_hashes() if shipped_hashes else {}).get(name.removeprefix("shipped:"))
            else:
                now = _hash_or_none(locate(name))
            rows.append((role.rstrip("s"), name, entry["sha256"], now))
    mapping = data.get("mappings") or {}
    root = mapping.get("root")
    for name, sha in (mapping.get("files") or {}).items():
        if isinstance(root, str) and root.startswith(SHIPPED):
            now = _hash_or_none(shipped_mappings_dir(root.removeprefix(SHIPPED)) / name)
        elif isinstance(root, str):
            now = _hash_or_none(locate(root) / name)
        else:
            now = None
        shown = f"{root}/{name}" if isinstance(root, str) else name
        rows.append(("mapping", shown, sha, now))
    verdicts = [("ok" if now == sha else "missing" if now is None else "changed")
                for _, _, sha, now in rows]
    frame = pl.DataFrame([(*r, v) for r, v in zip(rows, verdicts, strict=True)],
                         schema={"role": pl.String, "path": pl.String, "recorded": pl.String,
                                 "current": pl.String, "verdict": pl.String}, orient="row")
    if manifest_path.name == MANIFEST_NAME:
        listed = set()
        for e in data["outputs"]:
            with contextlib.suppress(ValueError):
                listed.add(os.path.realpath(locate(e["path"])))
        extra = [(n, _hash_or_none(base / n)) for n in set_names
                 if n != MANIFEST_NAME and (base / n).is_file()
                 and os.path.realpath(base / n) not in listed]
        if extra:
            frame = pl.concat([frame, pl.DataFrame(
                [("output", n, None, now, "unlisted") for n, now in extra], schema=frame.schema,
                orient="row")])
    return frame


def mixed_set_summary(rows: pl.DataFrame) -> str | None:
    """One line when a checked directory's outputs are not one run's set, else ``None``."""
    outputs = rows.filter(pl.col("role") == "output")
    bad = outputs.filter(pl.col("verdict") != "ok")
    if bad.height == 0:
        return None
    good = outputs.height - bad.height
    kinds = ", ".join(f"{n} {v}" for v, n in bad.group_by("verdict").len().sort("verdict").iter_rows())
    if good:
        return (f"mixed set: {bad.height} of {outputs.height} outputs are not the files this "
                f"manifest's run wrote ({kinds}); rebuild the directory")
    return f"no output is the file this manifest's run wrote ({kinds})"
