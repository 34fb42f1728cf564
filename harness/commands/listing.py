"""``harness list models|tasks|plugins``: what is registered and whether it can run here."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from harness.errors import InputError, UsageError
from harness.model import ModelSpec
from harness.report.render import make_console
from harness.tables import human_count

HUB_ID_WIDTH = 30


def _print(title: str, headers: tuple[str, ...], rows: list[tuple[str | Text, ...]], notes: Sequence[str] = ()) -> None:
    """A table of plain text (cells are escaped) with numbered notes under it."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, overflow="fold", width=_first_column_width(header, rows) if index == 0 else None)
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else escape(cell) for cell in row))
    console = make_console()
    console.print(table)
    for number, note in enumerate(notes, start=1):
        console.print(f"({number}) {escape(note)}", soft_wrap=True)  # one line each: paths stay whole


def _first_column_width(header: str, rows: list[tuple[str | Text, ...]]) -> int:
    """Wide enough that names never fold (they are typed back at the command line); a second line
    (a hub id) gets up to ``HUB_ID_WIDTH`` and folds beyond, so that the table fits 160 columns."""
    lines = [str(row[0]).split("\n") for row in rows]
    names = max((len(cell[0]) for cell in lines), default=0)
    others = max((len(line) for cell in lines for line in cell[1:]), default=0)
    return max(len(header), names, min(others, HUB_ID_WIDTH))


class _Notes(list):
    """Numbered notes; a note given twice keeps its first number."""

    def number(self, note: str) -> int:
        if note not in self:
            self.append(note)
        return self.index(note) + 1


def hardware(spec: ModelSpec) -> str:
    return "CUDA GPU" if spec.requires_cuda else "CPU or GPU"


def _recipe(recipe: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in recipe.items()) or "–"


def list_models(options: argparse.Namespace, hooks) -> None:
    """The roster: one short line per model (what it is, whether it runs here), with ``--wide`` the
    seed study's whole model table, with names one card per model."""
    from harness.core.config import load_config

    models, tasks = hooks.models(), hooks.tasks()
    config = load_config(options.config, models, tasks)
    names = list(getattr(options, "names", None) or [])
    unknown = [name for name in names if name not in models.names()]
    if unknown:
        raise UsageError(f"unknown model(s) {', '.join(unknown)}; `harness list models` lists them")
    specs = [models[name] for name in names] if names else list(models.values())
    reasons = {spec.name: _runs_here(spec, config) for spec in specs}
    if names:
        for spec in specs:
            _print_card(spec, reasons[spec.name])
        return
    if getattr(options, "wide", False):
        notes = _Notes()
        runs = {
            name: Text("yes", "green") if reason is None else Text(f"no ({notes.number(reason)})", "yellow")
            for name, reason in reasons.items()
        }
        _print("Models", WIDE_HEADERS, [_wide_row(spec, runs[spec.name]) for spec in specs], notes)
    else:
        _print_short(specs, reasons)
    if options.recipes:
        recipes = [(spec.name, _recipe(spec.recipe), _recipe(spec.cpu_recipe)) for spec in specs]
        _print("Recipes", ("Model", "Recipe", "On a CPU under --profile default"), recipes)


SHORT_HEADERS = ("Model", "Family", "Fine-tuning", "Params", "Runs here")


def _print_short(specs: Sequence[ModelSpec], reasons: Mapping[str, str | None]) -> None:
    """One line per model where the terminal allows (80 columns is enough), and one line per kind
    of reason a model cannot run here, with the models it applies to and what fixes it."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from harness.report.skips import group_skips

    groups = group_skips((name, reason) for name, reason in reasons.items() if reason is not None)
    number = {model: index for index, group in enumerate(groups, start=1) for model in group.models}
    ready = sum(reason is None for reason in reasons.values())
    table = Table(
        title=f"Models ({len(specs)} registered, {ready} run here)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # Names, families and counts never wrap (names are typed back at the command line); the
    # fine-tuning regime takes what is left and wraps between words.
    for header, cells in zip(SHORT_HEADERS, zip(*(_short_cells(spec) for spec in specs)), strict=True):
        fixed = header != "Fine-tuning"
        width = max(len(header), *(len(cell) for cell in cells)) if fixed else None
        table.add_column(header, no_wrap=fixed, min_width=width, max_width=width, overflow="fold")
    for spec in specs:
        runs = Text("yes", "green") if spec.name not in number else Text(f"no ({number[spec.name]})", "yellow")
        table.add_row(*(escape(cell) for cell in _short_cells(spec)[:4]), runs)
    console = make_console()
    console.print(table)
    for index, group in enumerate(groups, start=1):
        fix = f" [dim]→[/] {escape(group.fix)}" if group.fix else ""
        console.print(f"({index}) [yellow]{escape(group.reason)}[/]: {escape(', '.join(group.models))}{fix}")
    console.print(
        "More: `harness list models NAME` (one model's card, with the full reasons), `--wide` (the seed "
        "study's columns), `--recipes`. Guide: docs/models.md",
        style="dim",
    )


WIDE_HEADERS = (
    "Model (hub id)",
    "Params",
    "Pretraining domain",
    "Tokenization",
    "Fine-tuning",
    "Hardware",
    "Runs here",
    "Recipe from",
)


def _short_cells(spec: ModelSpec) -> tuple[str, ...]:
    return spec.name, spec.family, spec.fine_tuning_regime, human_count(spec.params), "no (10)"


def _runs_here(spec: ModelSpec, config) -> str | None:
    """Why ``spec`` cannot run on this machine with this config, or None."""
    from harness.core.weights import skip_reason

    try:
        return skip_reason(spec, config.weight_options(spec.name))
    except InputError as err:  # broken weights stop a run; the listing is where one looks why
        return str(err)


def _wide_row(spec: ModelSpec, runs: Text) -> tuple[str | Text, ...]:
    model = Text(spec.name)
    if spec.hub_id:
        model.append(f"\n{spec.hub_id}", "dim")
    return (
        model,
        human_count(spec.params),
        spec.pretraining_domain,
        spec.tokenization,
        spec.fine_tuning_regime,
        hardware(spec),
        runs,
        spec.study or "–",
    )


def _print_card(spec: ModelSpec, reason: str | None) -> None:
    """One model, every field on a line of its own: nothing is cut at any width."""
    from rich.markup import escape

    fields = [
        ("family", spec.family),
        ("fine-tuning", spec.fine_tuning_regime),
        ("architecture", spec.architecture or "–"),
        ("params", human_count(spec.params)),
        ("pretraining domain", spec.pretraining_domain),
        ("tokenization", spec.tokenization),
        ("hub id", spec.hub_id or "–"),
        ("packaged weights", spec.packaged_weights or "–"),
        ("hardware", hardware(spec)),
        ("runs here", "yes" if reason is None else f"no: {reason}"),
        ("recipe from", spec.study or "–"),
        ("recipe", _recipe(spec.recipe)),
        ("on a CPU (--profile default)", _recipe(spec.cpu_recipe)),
        ("tags entities (ner)", "yes" if spec.tag is not None else "no"),
        ("markers", ", ".join(spec.markers) or "–"),
    ]
    console = make_console()
    console.print(f"[bold]{escape(spec.name)}[/bold]" + (f" — {escape(spec.description)}" if spec.description else ""))
    width = max(len(key) for key, _ in fields)
    for key, value in fields:
        console.print(f"  {key:<{width}}  {escape(str(value))}", soft_wrap=True)


def list_tasks(options: argparse.Namespace, hooks) -> None:
    _models_only(options)
    tasks = hooks.tasks()
    rows = [
        (t.name, t.fits_on, ", ".join(t.markers) or "–", t.description, tasks.owner(t.name)) for t in tasks.values()
    ]
    _print("Tasks", ("Task", "Classifier fitted on", "Markers", "Description", "Plugin"), rows)


def list_plugins(options: argparse.Namespace, hooks) -> None:
    _models_only(options)
    rows = [(name, origin) for name, origin in hooks.origins().items()]
    _print("Plugins", ("Plugin", "Origin"), rows)


def _models_only(options: argparse.Namespace) -> None:
    for flag, given in (("--recipes", options.recipes), ("--wide", options.wide)):
        if given:
            raise UsageError(f"{flag} goes with `harness list models`")
    if options.names:
        raise UsageError(f"names ({', '.join(options.names)}) go with `harness list models`")
