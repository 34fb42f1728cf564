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
    """The roster in the shape of the seed study's model table, with whether each runs here."""
    from harness.core.config import load_config
    from harness.core.weights import skip_reason

    models, tasks = hooks.models(), hooks.tasks()
    config = load_config(options.config, models, tasks)
    rows, notes = [], _Notes()
    for spec in models.values():
        try:
            reason = skip_reason(spec, config.weight_options(spec.name))
        except InputError as err:  # broken weights stop a run; the listing is where one looks why
            reason = str(err)
        runs = Text("yes", "green") if reason is None else Text(f"no ({notes.number(reason)})", "yellow")
        model = Text(spec.name)
        if spec.hub_id:
            model.append(f"\n{spec.hub_id}", "dim")
        rows.append(
            (
                model,
                human_count(spec.params),
                spec.pretraining_domain,
                spec.tokenization,
                spec.fine_tuning_regime,
                hardware(spec),
                runs,
                spec.study or "–",
            )
        )
    headers = (
        "Model (hub id)",
        "Params",
        "Pretraining domain",
        "Tokenization",
        "Fine-tuning",
        "Hardware",
        "Runs here",
        "Recipe from",
    )
    _print("Models", headers, rows, notes)
    if options.recipes:
        recipes = [(spec.name, _recipe(spec.recipe), _recipe(spec.cpu_recipe)) for spec in models.values()]
        _print("Recipes", ("Model", "Recipe", "On a CPU under --profile default"), recipes)


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
    if getattr(options, "recipes", False):
        raise UsageError("--recipes goes with `harness list models`")
