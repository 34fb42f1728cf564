"""``harness publish``: merge run leaderboards into one published leaderboard.

:func:`publish` reads each run's ``leaderboard.json`` (and the target, if it exists: publishing
adds to a leaderboard), refuses runs whose task data differ under one split name and items that
appear twice, withholds per-example text of non-public splits, scans the merged document for any
text of the runs' private data and writes it atomically, all under a lock file beside the target.

The published file is itself a v1 leaderboard: ``harness show`` and ``harness validate`` read it
unchanged. Its ``run`` is synthesised from the inputs', which are kept in ``run.merged_from``.
Every refusal is an :class:`~harness.errors.InputError` and nothing is written. Runs whose times
were measured on different machines are merged, with a warning that says which ran where.
"""

from __future__ import annotations

import copy
import hashlib
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.hardware import distinct, hardware_text, machine_of
from harness.errors import InputError, warn
from harness.leaderboard import SCHEMA_VERSION, load, validate, write_atomic
from harness.privacy import PRIVATE_PAGE_MARKER, min_cell_count, suppress_small

LOCK_TIMEOUT_SECONDS = 60.0
# A private text this long or longer is refused anywhere inside a string; a shorter one only as
# the whole string: short texts ("uti", "cap") are also everyday words of the harness's output.
MIN_CONTAINED = 12
# Cells shorter than this are not looked for: "0"/"1" label cells would otherwise forbid every
# leaderboard string "1" (an entity length, a seed), and two characters identify no one.
MIN_PRIVATE = 3
# Fields that hold public vocabulary by construction, by JSON path ("*": any key or index); the
# whole subtree under each is exempt from the privacy scan.
EXEMPT_PATHS: tuple[tuple[str, ...], ...] = (
    ("results", "*", "cases"),  # probe cases: probe files are public by nature
    ("results", "*", "tokenisation"),  # the harness's public term lists and tokenizer pieces
    ("results", "*", "name"),  # task[model-seedN]
    ("results", "*", "model"),
    # the generator's own table terms (harness.tasks.robustness.variants.Variant.edit), and category names
    *(
        ("results", "*", "robustness", "splits", "*", "examples", "*", "*", name)
        for name in ("edit", "expected", "predicted_original", "predicted_variant")
    ),
)


@dataclass(frozen=True)
class RunFile:
    """One input: its path, its validated document and the SHA-256 of its bytes."""

    path: Path
    document: dict[str, Any]
    sha256: str


@dataclass
class Merged:
    """The merged document, and every source path each labelled split was read from."""

    document: dict[str, Any]
    sources: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def read_run(path: Path) -> RunFile:
    """Load and validate one leaderboard (exit 2 naming the file if it is not one)."""
    if path.is_file() and PRIVATE_PAGE_MARKER.encode() in path.read_bytes()[:4096]:
        raise InputError(
            str(path), "a private page (harness show --private): it holds patient text and is never published"
        )
    document = load(path)
    return RunFile(path, document, hashlib.sha256(path.read_bytes()).hexdigest())


def publish(
    runs: Sequence[Path],
    target: Path,
    *,
    data_root: Path | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Merge ``runs`` (and ``target`` if it exists) into ``target``; return the written document.

    ``data_root``: where to find the runs' data files when they are not at the paths the runs
    read them from (another machine's absolute paths are looked up under it by their last parts).
    """
    from filelock import FileLock, Timeout

    lock_path = target.with_name(f"{target.name}.lock")
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(
            str(lock_path),
            f"another `harness publish` to {target.name} held this lock for {lock_timeout:g} s; "
            "try again when it has finished",
        ) from None
    # Held for the whole read-merge-scan-write: a publish that read the target before another
    # wrote it would otherwise write back the old results without the other's.
    try:
        paths = [target] if target.exists() else []
        paths += [p for p in runs if p.resolve() not in {q.resolve() for q in paths}]
        merged = merge([read_run(p) for p in paths])
        withhold_private_examples(merged.document)
        suppress_small(merged.document, min_cell_count(merged.document))
        validate(merged.document, str(target))
        scan(merged, data_root, where=str(target))
        write_atomic(merged.document, target)
    finally:
        lock.release()
    note = hardware_note(merged.document["run"]["merged_from"])
    if note:
        warn(str(target), note)
    return merged.document


def hardware_note(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """Which merged runs ran on which machines, when they did not all run on the same ones (or some
    record none): their training and prediction times are then not comparable. None otherwise."""
    runs_on: dict[str, list[str]] = {}
    for entry in entries:
        machines = distinct(machine_of(machine) for machine in entry.get("hardware", []))
        where = " + ".join(hardware_text(machine) for machine in machines) or "hardware not recorded"
        runs_on.setdefault(where, []).append(f"{entry['file']} ({entry['timestamp_utc']})")
    if len(runs_on) < 2:
        return None
    listed = "; ".join(f"{', '.join(files)} on {where}" for where, files in runs_on.items())
    return (
        f"the merged runs' times come from different hardware: {listed}; their training and prediction "
        "times compare machines as much as models"
    )


def _entries(run_file: RunFile) -> list[dict[str, Any]]:
    """The input's runs as ``merged_from`` entries: a published input contributes its own."""
    document, run = run_file.document, run_file.document["run"]
    if "merged_from" in run:
        return [copy.deepcopy(e) for e in run["merged_from"]]
    entry = {key: copy.deepcopy(value) for key, value in run.items() if key != "data"}
    entry.update(file=run_file.path.name, sha256=run_file.sha256)
    if "summaries" in document:
        entry["summaries"] = copy.deepcopy(document["summaries"])
    if "search" in document:  # --tune: the budget each model of this run was searched with
        entry["search"] = copy.deepcopy(document["search"])
    return [entry]


def _merge_data(
    inputs: Sequence[RunFile],
) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, str], list[str]]]:
    """``run.data`` merged: one entry per task and split, which every input must agree on; and
    every source path each split was read from (machines differ), to find its file for the scan."""
    data: dict[str, list[dict[str, Any]]] = {}
    first: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
    sources: dict[tuple[str, str], list[str]] = {}
    for run_file in inputs:
        for task, provenance in run_file.document["run"]["data"].items():
            merged = data.setdefault(task, [])
            for entry in provenance:
                if "split" not in entry:  # probe files, variant counts: the same entry once
                    if entry not in merged:
                        merged.append(copy.deepcopy(entry))
                    continue
                key = (task, entry["split"])
                if key not in first:
                    first[key] = (copy.deepcopy(entry), run_file.path)
                    merged.append(first[key][0])
                    sources[key] = [entry["source"]]
                    continue
                kept, where = first[key]
                _check_same_data(task, entry, kept, run_file.path, where)
                # A split is public only if every run said so; synthetic if any did.
                kept["public"] = kept["public"] and entry["public"]
                kept["synthetic"] = kept["synthetic"] or entry["synthetic"]
                if entry["source"] not in sources[key]:
                    sources[key].append(entry["source"])
    return data, sources


def _check_same_data(task: str, entry: Mapping[str, Any], kept: Mapping[str, Any], path: Path, other: Path) -> None:
    split = entry["split"]
    if entry["sha256"] != kept["sha256"]:
        raise InputError(
            str(path),
            f"task {task!r}, split {split!r}: different data than in {other} "
            f"(sha256 {entry['sha256'][:12]}… vs {kept['sha256'][:12]}…); "
            "results on different data cannot share a leaderboard",
        )
    # The same file sampled differently (the smoke profile scores a subset) is not the same data either.
    if (entry["rows"], entry["support"]) != (kept["rows"], kept["support"]):
        raise InputError(
            str(path),
            f"task {task!r}, split {split!r}: the same file but {entry['rows']} rows scored, "
            f"{kept['rows']} in {other} (a different profile?); results on different rows cannot share a leaderboard",
        )


def _merge_results(inputs: Sequence[RunFile]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, int, int | None], Path] = {}
    for run_file in inputs:
        for item in run_file.document["results"]:
            key = (item["model"], item["task"], item["seed"], item.get("train_rows"))
            if key in seen:
                raise InputError(
                    str(run_file.path),
                    f"item {item['name']} is already in {seen[key]}; each model, task and seed can be published once",
                )
            seen[key] = run_file.path
            results.append(copy.deepcopy(item))
    return results


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _data_note(notes: Sequence[str]) -> str:
    """Every run's note on its data (synthetic, silver...) once: a run of two tasks joins both
    tasks' notes, so a note inside another run's note is not repeated."""
    unique = _unique(notes)
    return " ".join(note for note in unique if not any(note != other and note in other for other in unique))


def merge(inputs: Sequence[RunFile]) -> Merged:
    """The merged document of ``inputs`` (in order), with its synthesised ``run``."""
    from harness import __version__
    from harness.leaderboard import package_version

    entries = [entry for run_file in inputs for entry in _entries(run_file)]
    data, sources = _merge_data(inputs)
    results = _merge_results(inputs)
    synthetic = any(e["synthetic_data"] for e in entries)
    configs = {e["config_sha256"] for e in entries}
    run = {
        "harness_version": __version__,
        "git_commit": None,  # the inputs' commits are in merged_from
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "device": ", ".join(_unique([e["device"] for e in entries])),
        "seeds": sorted({seed for e in entries for seed in e["seeds"]}),
        "profile": ", ".join(_unique([e["profile"] for e in entries])),
        "config_sha256": configs.pop() if len(configs) == 1 else None,
        "command": copy.deepcopy(entries[0]["command"]),
        "synthetic_data": synthetic,
        "data_note": _data_note([e["data_note"] for e in entries]),
        "data": data,
        "summary": {k: sum(e["summary"][k] for e in entries) for k in ("passed", "skipped", "error")},
        "duration_seconds": round(sum(e["duration_seconds"] for e in entries), 3),
        "merged_from": entries,
    }
    machines = distinct(machine for e in entries for machine in e.get("hardware", []))
    if machines:
        run["hardware"] = machines
    strictest = max((e.get("privacy", {}).get("min_cell_count", 0) for e in entries), default=0)
    if strictest:  # the strictest run's [privacy] holds for everything published with it
        run["privacy"] = {"min_cell_count": strictest}
    # No top-level summaries: comparing models needs per-item predictions, which leaderboards
    # never hold, so comparisons stay per run (merged_from[i].summaries).
    return Merged({"schema_version": SCHEMA_VERSION, "run": run, "results": results}, sources)


def _labelled(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for task, provenance in document["run"]["data"].items():
        for entry in provenance:
            if "split" in entry:  # a labelled split (not a probe file or variant counts)
                yield task, entry


def withhold_private_examples(document: dict[str, Any]) -> int:
    """Drop robustness ``examples`` of every split not public in every task that has it; the
    count dropped. ``harness run`` already withholds them: this is the second line of defence."""
    public: dict[str, bool] = {}
    for _, entry in _labelled(document):
        public[entry["split"]] = public.get(entry["split"], True) and entry["public"]
    dropped = 0
    for item in document["results"]:
        for name, split in item.get("robustness", {}).get("splits", {}).items():
            if "examples" in split and not public.get(name, False):
                del split["examples"]
                split["examples_withheld"] = True
                dropped += 1
    return dropped


def _file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _candidates(source: str, data_root: Path | None) -> list[Path]:
    if source.startswith("embedded:"):
        from importlib.resources import files

        # Each task keeps its embedded data in its own folder: harness/tasks/<task>/data/.
        tasks = Path(str(files("harness.tasks")))
        return sorted(tasks.glob(f"*/data/{source.removeprefix('embedded:')}"))
    path = Path(source).expanduser()
    if data_root is None:
        return [path]  # a relative path is relative to the current directory, as in the run
    parts = path.parts[1:] if path.is_absolute() else path.parts
    # Longest tail first: /home/ana/study/data/train.csv is DIR/home/ana/..., ..., DIR/train.csv.
    tails = [data_root.joinpath(*parts[i:]) for i in range(len(parts))]
    return tails + ([path] if path.is_absolute() else [])


def locate(sources: Sequence[str], sha256: str, data_root: Path | None, label: str) -> Path:
    """The data file of one split: the first candidate path whose SHA-256 is the recorded one."""
    changed: list[Path] = []
    for path in _unique([str(c) for s in sources for c in _candidates(s, data_root)]):
        candidate = Path(path)
        if candidate.is_file():
            if _file_sha256(candidate) == sha256:
                return candidate
            changed.append(candidate)
    if changed:
        raise InputError(
            str(changed[0]),
            f"split {label}: this file changed since the run (its SHA-256 is not the recorded one), "
            "so its text cannot be checked for; --data-root DIR can point at a folder holding the run's copy",
        )
    under = f" under {data_root}" if data_root else ""
    raise InputError(
        sources[0],
        f"split {label}: data file not found{under}; it is needed to check that none of its text is "
        "published: --data-root DIR can point at a folder holding it",
    )


def _cell_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _cell_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _cell_strings(inner)


def private_texts(merged: Merged, data_root: Path | None) -> dict[str, str]:
    """Every string cell of every private split's file (stripped) -> ``task/split``.

    The text column is not recorded in the provenance, so every cell counts: stricter. A tagged
    (CoNLL-style) file counts each sentence, its words joined by spaces.
    """

    texts: dict[str, str] = {}
    read: set[str] = set()  # SHA-256s: train and eval may be one file, and tasks may share one
    for task, entry in _labelled(merged.document):
        if entry["public"] or entry["sha256"] in read:
            continue
        read.add(entry["sha256"])
        label = f"{task}/{entry['split']}"
        sources = merged.sources.get((task, entry["split"]), [entry["source"]])
        path = locate(sources, entry["sha256"], data_root, label)
        for cell in _file_strings(path):
            if len(cell.strip()) >= MIN_PRIVATE:
                texts.setdefault(cell.strip(), label)
    return texts


def _file_strings(path: Path) -> Iterator[str]:
    from harness.data import RECORD_SUFFIXES, read_records
    from harness.tagged import read_conll

    if path.suffix.lower() in RECORD_SUFFIXES:
        _, records, _ = read_records(path)
        for record in records:
            yield from _cell_strings(record)
    else:  # the ner task reads every other file ending as CoNLL
        for words in read_conll(path, path.name).sentences:
            yield " ".join(words)


class TextFinder:
    """Finds private texts in strings: equal after stripping, or contained if long enough.

    Long texts are indexed by their first ``MIN_CONTAINED`` characters, so the cost is one dict
    lookup per character of the document, whatever the size of the data.
    """

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.by_prefix: dict[str, list[str]] = {}
        for text in texts:
            if len(text) >= MIN_CONTAINED:
                self.by_prefix.setdefault(text[:MIN_CONTAINED], []).append(text)

    def find(self, value: str) -> str | None:
        """The ``task/split`` of a private text in ``value``, or None."""
        if value.strip() in self.texts:
            return self.texts[value.strip()]
        if self.by_prefix:
            for i in range(len(value) - MIN_CONTAINED + 1):
                for text in self.by_prefix.get(value[i : i + MIN_CONTAINED], ()):
                    if value.startswith(text, i):
                        return self.texts[text]
        return None


def _exempt(path: tuple[str, ...]) -> bool:
    return any(
        len(path) >= len(pattern) and all(p in ("*", part) for p, part in zip(pattern, path))
        for pattern in EXEMPT_PATHS
    )


def document_strings(
    node: Any, exempt_keys: frozenset[str], exempt_values: frozenset[str], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """Every string of ``node`` not exempt, keys included, as (where, string) in document order.
    ``where`` never holds the string itself (a key's is its parent's path)."""
    if _exempt(path):
        return
    if isinstance(node, str):
        if node not in exempt_values:
            yield "/".join(path) or "<root>", node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key not in exempt_keys and key not in exempt_values:
                yield f"a key of {'/'.join(path) or '<root>'}", key
            yield from document_strings(value, exempt_keys, exempt_values, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from document_strings(value, exempt_keys, exempt_values, (*path, str(index)))


def scan(merged: Merged, data_root: Path | None, where: str) -> None:
    """Refuse the document if any of its strings holds a text of a private split."""
    finder = TextFinder(private_texts(merged, data_root))
    if not finder.texts:
        return
    document = merged.document
    categories = frozenset(c for _, entry in _labelled(document) for c in entry["support"])
    models = frozenset(item["model"] for item in document["results"])
    # A label's name is the task's vocabulary (the leaderboard's per-class keys already name it):
    # a confusion matrix's labels or a confused pair may hold it as a whole string.
    for path, value in document_strings(document, categories, models | categories):
        label = finder.find(value)
        if label is not None:
            # The path and split only: the message must not publish the text it refuses.
            raise InputError(
                where,
                f"refused: {path} holds text of the private split {label}; nothing was written. Remove it "
                "from the run, or mark the split `public = true` in the run's config if its text may be published",
            )


def summary_line(target: Path, document: Mapping[str, Any]) -> str:
    runs, items = len(document["run"]["merged_from"]), len(document["results"])
    return f"{target}: {runs} run{'s' * (runs != 1)}, {items} item{'s' * (items != 1)}"
