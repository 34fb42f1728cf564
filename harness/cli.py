"""The ``harness`` command: run, list, validate, show, fetch, publish."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness.errors import EXIT_INTERRUPTED, HarnessError

EXIT_OK, EXIT_ITEM_ERROR, EXIT_USAGE = 0, 1, 2
# Set for `harness run` unless the user set them: the Hugging Face libraries then never reach the hub.
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return list(dict.fromkeys(seeds))


def _add_run_parser(commands, hooks) -> None:
    from harness.core.executors import EXECUTORS
    from harness.core.profiles import PROFILES

    run = commands.add_parser("run", help="run every selected model on every selected task")
    run.add_argument("--models", default="all", help="'all' or a comma list of model names (default: all)")
    run.add_argument("--tasks", default="all", help="'all' or a comma list of task names (default: all)")
    run.add_argument("--seeds", type=_seeds, default=[42], help="comma list of seeds (default: 42)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="select items by name expression, as pytest -k")
    run.add_argument("-m", dest="markers", metavar="EXPR", help="select items by marker expression (e.g. 'not slow')")
    run.add_argument("--collect-only", action="store_true", help="print the grid of items and stop")
    run.add_argument("--config", type=Path, help="TOML file pointing tasks at your data, models at weights")
    run.add_argument(
        "--out",
        type=Path,
        help="run directory for leaderboard.json and finished items (default: runs/<UTC time>); "
        "running into it again skips the items already finished",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="finish an interrupted run: as --out RUN_DIR, and RUN_DIR must hold finished items",
    )
    run.add_argument(
        "--profile",
        default="default",
        choices=sorted(PROFILES),
        help="run size (smoke: a quick check that every family runs, on a few rows)",
    )
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    run.add_argument(
        "--train-sizes",
        metavar="SIZES",
        help="learning curves: also fit every model that trains on nested, stratified subsets of train "
        "of these sizes, counts (100,200,400,all) or fractions (0.1,0.25,all); docs/learning-curves.md",
    )
    run.add_argument(
        "--curve-followers",
        action="store_true",
        help="with --train-sizes: also score the probe and robustness tasks on every subset's fit "
        "(by default they score the full fit only)",
    )
    run.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="local: one fit after another in this process (default); ray: fit groups as Ray tasks "
        "across GPUs and nodes (pip install 'clinical-harness[ray]'; docs/cluster.md)",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="with --executor ray or --tune: auto or HOST:PORT joins a running cluster (default: start one on this machine)",
    )
    _add_tune_options(run)
    hooks.add_options(run)


def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _add_tune_options(run) -> None:
    tune = run.add_argument_group("tuning (docs/tuning.md; pip install 'clinical-harness[tune]')")
    tune.add_argument(
        "--tune",
        type=_positive_int,
        metavar="N",
        help="before the grid, search each model's recipe with N trials on train, scored on eval only "
        "(the same N for every model; trial 0 is the model's own recipe)",
    )
    tune.add_argument(
        "--tune-time",
        metavar="DURATION",
        help="or the same search time per model, e.g. 20m, 1h30m, 90s (with --tune: whichever ends first)",
    )
    tune.add_argument(
        "--tune-concurrency",
        type=_positive_int,
        default=1,
        metavar="K",
        help="trials at a time (default 1: a fixed seed then gives the same search; more is faster, not reproducible)",
    )
    tune.add_argument(
        "--tune-seed", type=_positive_int, default=0, metavar="SEED", help="the searcher's seed (default 0)"
    )


def make_parser(hooks) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Fine-tune and benchmark clinical language models on your own data, offline.",
        epilog=f"Start here: {GUIDE_PAGES[None]}; each command's --help names its page.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_parser(commands, hooks)
    listing = commands.add_parser("list", help="list models, tasks or plugins, and whether each can run here")
    listing.add_argument("what", choices=["models", "tasks", "plugins"])
    listing.add_argument("names", nargs="*", metavar="NAME", help="models: one card per named model")
    listing.add_argument("--wide", action="store_true", help="models: every column of the seed study's table")
    listing.add_argument("--config", type=Path, help="config naming local weights (see run --config)")
    listing.add_argument("--recipes", action="store_true", help="models: also print each model's recipe")
    validate = commands.add_parser("validate", help="check leaderboard files against the schema")
    validate.add_argument("files", nargs="+", type=Path)
    show = commands.add_parser("show", help="re-render a leaderboard's tables")
    show.add_argument("file", type=Path)
    show.add_argument(
        "--format",
        default="table",
        choices=["table", "markdown", "latex", "html"],
        help="html: one self-contained page that opens offline (needs --output)",
    )
    show.add_argument("--output", type=Path, metavar="PAGE.html", help="where --format html writes the page")
    show.add_argument(
        "--report",
        default="full",
        choices=["full", "summary"],
        help="table format: every table (default), or the decision, the overall table and the summary line",
    )
    show.add_argument("--plots", type=Path, metavar="DIR", help="also write the leaderboard's plots (PNG, SVG) to DIR")
    show.add_argument(
        "--private",
        action="store_true",
        help="with --format html and a run directory: add each model's most confident errors WITH PATIENT TEXT "
        "under a red banner (a private page: never publish it; docs/error-analysis.md)",
    )
    show.add_argument(
        "--private-rows", type=_positive_int, default=10, metavar="N", help="--private: errors per model and test set"
    )
    _add_fetch_parser(commands)
    _add_publish_parser(commands)
    _add_errors_parser(commands)
    for name, command in commands.choices.items():
        command.epilog = f"Guide: {GUIDE_PAGES.get(name, GUIDE_PAGES[None])}"
    return parser


# The user guide's page for each command (docs/, built with MkDocs; the files read as they are).
GUIDE_PAGES = {
    None: "docs/getting-started.md",
    "run": "docs/getting-started.md (your own data: docs/your-own-task.md)",
    "list": "docs/models.md",
    "validate": "docs/publishing.md",
    "show": "docs/reading-results.md",
    "fetch": "docs/offline-weights.md",
    "publish": "docs/publishing.md",
    "errors": "docs/error-analysis.md",
}


def _add_errors_parser(commands) -> None:
    errors = commands.add_parser(
        "errors",
        help="the misclassified rows of a run WITH THEIR TEXT (patient text: keep it private; docs/error-analysis.md)",
    )
    errors.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run directory (harness run --out)")
    errors.add_argument("--model", metavar="MODEL", help="only this model's rows")
    errors.add_argument("--test-set", metavar="NAME", help="only this test set's rows")
    errors.add_argument("--true", metavar="LABEL", help="only rows whose gold labels include LABEL")
    errors.add_argument("--pred", metavar="LABEL", help="only rows whose predicted labels include LABEL")
    errors.add_argument(
        "--vs", metavar="MODEL", help="with --model: the rows on which the two models disagree, and who was right"
    )
    errors.add_argument("--format", default="table", choices=["table", "csv", "jsonl"], help="default: table")
    errors.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write here (whole or not at all, readable by you only: 0600) instead of to the console",
    )


def _add_fetch_parser(commands) -> None:
    fetch = commands.add_parser(
        "fetch", help="download models' weights on a connected machine, to carry into an offline one"
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="model names, as `harness list models` prints them")
    fetch.add_argument(
        "--to",
        type=Path,
        metavar="DIR",
        help="one folder per model goes in DIR (default: $HARNESS_MODELS_DIR, else ./models)",
    )
    fetch.add_argument(
        "--from",
        dest="mirror",
        type=Path,
        metavar="DIR",
        help="copy from a local mirror laid out as DIR/<hub id>/ (or DIR/<name>/), not the hub",
    )
    fetch.add_argument("--allow-pickle", action="store_true", help="also fetch pickled pytorch_model*.bin weights")
    fetch.add_argument("--force", action="store_true", help="fetch again even when the weights are already there")


def _add_publish_parser(commands) -> None:
    publish = commands.add_parser(
        "publish", help="merge runs' leaderboards into one, refusing any text of their private data"
    )
    publish.add_argument("runs", nargs="+", type=Path, metavar="RUN.json", help="leaderboards written by harness run")
    publish.add_argument(
        "--to",
        type=Path,
        required=True,
        metavar="NAME.json",
        help="the published leaderboard; if it exists, the runs are added to it",
    )
    publish.add_argument(
        "--data-root",
        type=Path,
        metavar="DIR",
        help="where the runs' data files are, if not where the runs read them (their relative "
        "paths are then under DIR; absolute ones are looked up by their last parts)",
    )
    publish.add_argument(
        "--html",
        type=Path,
        metavar="PAGE.html",
        help="also write the published leaderboard as one self-contained HTML page",
    )


def cmd_run(options: argparse.Namespace, hooks) -> int:
    from harness.core.config import load_config
    from harness.core.document import build_document
    from harness.core.executors import make_executor
    from harness.core.profiles import get_profile
    from harness.core.runner import build_session, run_session
    from harness.core.search import SEARCH, budget_of, check_plans, run_search
    from harness.core.store import ItemStore
    from harness.errors import warnings_held
    from harness.leaderboard import validate
    from harness.progress import rich_progress

    executor = make_executor(options)  # --executor ray without Ray: the install line, before anything runs
    budget_of(options)  # a bad --tune-time: one line, before anything runs
    models, tasks = hooks.models(), hooks.tasks()
    config = load_config(options.config, models, tasks)
    out_dir = _run_dir(options)
    with warnings_held():  # a bad search space is one line, without the data's warnings
        session = build_session(options, models, tasks, config, get_profile(options.profile))
        check_plans(session)  # every model's search space against its recipe, before anything runs
    session.store = None if session.collect_only else ItemStore(out_dir)
    if not session.collect_only:
        executor.start()
    try:
        search = lambda: run_search(session, hooks, out_dir, rich_progress)  # noqa: E731
        exit_code = run_session(session, hooks, rich_progress, executor, search)
    finally:
        executor.close()
    if exit_code == EXIT_INTERRUPTED:
        trials = f" (and the search's trials, in {out_dir / SEARCH})" if (out_dir / SEARCH).is_dir() else ""
        print(
            f"harness: interrupted; {session.store.count()} finished item(s) are saved in {out_dir}{trials}\n"
            f"resume with: harness {_resume_command(out_dir)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    document = build_document(session)
    path, artifacts = None, []
    if not session.collect_only:
        validate(document)
        path = hooks.write_leaderboard(document, out_dir)
        if path is not None:
            artifacts = hooks.write_artifacts(document, path.parent)
    hooks.run_finished(session, document, path, exit_code, artifacts, [] if session.collect_only else None)
    return exit_code


def _run_dir(options: argparse.Namespace) -> Path:
    """Where the run keeps its finished items and its leaderboard (checked before anything runs)."""
    from harness.core.search import search_dir_exists
    from harness.core.store import ItemStore
    from harness.errors import UsageError

    if options.resume is not None:
        if options.out is not None and options.out.resolve() != options.resume.resolve():
            raise UsageError("--resume RUN_DIR is the run directory: give --out only to name the same one")
        if not ItemStore(options.resume).exists() and not search_dir_exists(options.resume):
            raise UsageError(
                f"--resume {options.resume}: no finished items there (looked in {options.resume}/items and /search)"
            )
        return options.resume
    return options.out or Path("runs") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _resume_command(out_dir: Path) -> str:
    """This command line again, with ``--resume`` in place of ``--out``/``--resume``."""
    argv, kept, skip = sys.argv[1:] if sys.argv[1:2] == ["run"] else ["run"], [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in {"--out", "--resume"}:
            skip = True
            continue
        if arg.startswith(("--out=", "--resume=")):
            continue
        kept.append(arg)
    return " ".join([*kept, "--resume", str(out_dir)])


def cmd_list(options: argparse.Namespace, hooks) -> int:
    from harness.commands.listing import list_models, list_plugins, list_tasks

    {"models": list_models, "tasks": list_tasks, "plugins": list_plugins}[options.what](options, hooks)
    return EXIT_OK


def cmd_validate(options: argparse.Namespace, hooks) -> int:
    from harness.leaderboard import load

    for path in options.files:
        load(path)
        print(f"{path}: valid")
    return EXIT_OK


def cmd_show(options: argparse.Namespace, hooks) -> int:
    from harness.errors import UsageError
    from harness.leaderboard import load
    from harness.report.render import make_console, to_text
    from harness.report.tables import model_table, summary_line

    if (options.format == "html") != (options.output is not None):
        raise UsageError(
            "--format html needs --output PAGE.html" if options.output is None else "--output is for --format html"
        )
    if options.private and options.format != "html":
        raise UsageError("--private is for --format html")
    run_dir = options.file if options.file.is_dir() else options.file.parent
    document = load(options.file / "leaderboard.json" if options.file.is_dir() else options.file)
    if options.format == "html" and options.private:
        from harness.commands.errors import most_confident
        from harness.report.html import write_html

        errors = most_confident(run_dir, options.private_rows)
        print(write_html(document, options.output, hooks.tables(document), private_errors=errors))
        return EXIT_OK
    if options.format == "html":
        from harness.privacy import min_cell_count, suppress_small
        from harness.report.html import write_html

        # a page leaves the run directory: small error-analysis counts are blanked ([privacy]),
        # in the tasks' tables too (render_html blanks what it draws from the document itself)
        document = suppress_small(document, min_cell_count(document))
        print(write_html(document, options.output, hooks.tables(document)))
        if options.plots is not None:
            _show_plots(document, options.plots, sys.stdout)
        return EXIT_OK
    tables = hooks.tables(document)
    if options.format == "table":
        from harness.report.console import print_results, print_skips

        out = make_console()
        skipped = [(e["model"], e["reason"]) for e in document["results"] if e["status"] == "skipped"]
        if options.report == "full":
            print_skips(out, skipped)
        print_results(out, document, tables, options.report)
        out.print()
        out.print(document["run"]["data_note"], markup=False)
        summary = document["run"].get("summary")
        if summary:
            out.rule(summary_line(summary, document["run"].get("duration_seconds") or 0.0))
    else:
        from harness.core.hardware import times_lines

        sys.stdout.write(to_text([model_table(document), *tables], options.format))
        comment = "%" if options.format == "latex" else ""
        print(f"\n{comment}{document['run']['data_note']}")
        for line in times_lines(document["run"]):
            print(f"{comment}{line}")
    if options.plots is not None:
        _show_plots(document, options.plots, sys.stdout if options.format == "table" else sys.stderr)
    return EXIT_OK


def _show_plots(document, out_dir: Path, stream) -> None:
    """Write ``document``'s plots into ``out_dir``, a path a line on ``stream`` (stderr for markdown
    and LaTeX, whose stdout is a document the user redirects into a file)."""
    from harness.errors import InputError
    from harness.report.plots import write_plots
    from harness.report.search import write_search_plots

    try:
        paths = write_plots(document, out_dir) + write_search_plots(document, out_dir)
    except OSError as err:
        raise InputError(str(out_dir), f"cannot write plots: {err.strerror or err}") from None
    if not paths:
        print("no plots: no passed indications results", file=stream)
    for path in paths:
        print(path, file=stream)


def cmd_fetch(options: argparse.Namespace, hooks) -> int:
    from harness.commands.fetch import fetch_models

    return fetch_models(options, hooks)


def cmd_publish(options: argparse.Namespace, hooks) -> int:
    from harness.commands.publish import publish, summary_line

    document = publish(options.runs, options.to, data_root=options.data_root)
    print(summary_line(options.to, document))
    if options.html is not None:  # the document as written: merged, scanned for private text
        from harness.report.html import write_html

        print(write_html(document, options.html, hooks.tables(document)))
    return EXIT_OK


def cmd_errors(options: argparse.Namespace, hooks) -> int:
    from harness.commands.errors import show_errors

    show_errors(options)
    return EXIT_OK


COMMANDS = {
    "errors": cmd_errors,
    "run": cmd_run,
    "list": cmd_list,
    "validate": cmd_validate,
    "show": cmd_show,
    "fetch": cmd_fetch,
    "publish": cmd_publish,
}


def stay_offline(argv: Sequence[str]) -> None:
    """For ``harness run``, set ``OFFLINE_ENV`` to 1 where unset. This happens before the plugins
    are imported: huggingface_hub reads these variables once, when first imported."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command == "run":
        for name in OFFLINE_ENV:
            os.environ.setdefault(name, "1")


def main(argv: Sequence[str] | None = None, plugins: dict[str, object] | None = None) -> int:
    """Run the command line; ``plugins`` (name -> module/object) adds plugins, for tests and embedding."""
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    argv = sys.argv[1:] if argv is None else list(argv)
    stay_offline(argv)
    try:
        hooks = Hooks(make_plugin_manager(plugins))
        options = make_parser(hooks).parse_args(argv)
        return COMMANDS[options.command](options, hooks)
    except HarnessError as err:
        print(f"harness: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
