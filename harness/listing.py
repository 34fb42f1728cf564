"""``harness list models|tasks|plugins``: what is registered and whether it can run here."""

from __future__ import annotations

import argparse

from harness.render import make_console
from harness.tables import human_count


def _print(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]], notes: list[str] = ()) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*row)
    console = make_console()
    console.print(table)
    for number, note in enumerate(notes, start=1):
        console.print(f"({number}) {escape(note)}")


def list_models(options: argparse.Namespace, hooks) -> None:
    from harness.config import load_config
    from harness.weights import skip_reason

    models, tasks = hooks.models(), hooks.tasks()
    config = load_config(options.config, models, tasks)
    rows, reasons = [], []
    for spec in models.values():
        reason = skip_reason(spec, config.weights_for(spec.name))
        if reason is not None:
            reasons.append(reason)
        rows.append(
            (
                spec.name,
                spec.family,
                spec.fine_tuning_regime,
                human_count(spec.params),
                spec.pretraining_domain,
                spec.tokenization,
                "[green]yes[/]" if reason is None else f"[yellow]no ({len(reasons)})[/]",
            )
        )
    headers = ("Model", "Family", "Fine-tuning", "Params", "Pretraining domain", "Tokenization", "Runs here")
    _print("Models", headers, rows, reasons)


def list_tasks(options: argparse.Namespace, hooks) -> None:
    tasks = hooks.tasks()
    rows = [
        (t.name, t.fits_on, ", ".join(t.markers) or "–", t.description, tasks.owner(t.name)) for t in tasks.values()
    ]
    _print("Tasks", ("Task", "Classifier fitted on", "Markers", "Description", "Plugin"), rows)


def list_plugins(options: argparse.Namespace, hooks) -> None:
    rows = [(name, origin) for name, origin in hooks.origins().items()]
    _print("Plugins", ("Plugin", "Origin"), rows)
