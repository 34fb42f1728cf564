"""Running the grid: load data, collect items, run each one, never stop on a failure."""

from __future__ import annotations

import argparse
import dataclasses
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from harness.core.collect import Item, collect, pick
from harness.core.config import RunConfig
from harness.core.cost import measure, training_flops
from harness.core.hooks import Hooks
from harness.core.profiles import Profile
from harness.core.reports import ItemReport, Session
from harness.core.store import item_key
from harness.core.train_sizes import curve_subsets, parse_train_sizes, plan_curves, refuse_tasks
from harness.core.weights import find_weights, skip_reason
from harness.errors import EXIT_INTERRUPTED, InputError, PluginError, warnings_held
from harness.leaderboard import CORE_ITEM_FIELDS
from harness.model import ClassificationSetup, FitRequest, ModelSpec, TagRequest
from harness.progress import ProgressFactory
from harness.registry import ModelRegistry, TaskRegistry
from harness.tagged import tag_set
from harness.task import Fit, LearningCurveRequest, LoadRequest, ScoredItem, ScoreRequest, SummaryRequest, TaskSpec


def short_traceback(err: BaseException, frames: int = 4) -> str:
    """The last few frames: enough to find the bug, short enough for a console."""
    lines = traceback.format_exception(type(err), err, err.__traceback__, limit=-frames)
    text = "".join(lines).rstrip()
    return text if len(text) < 3000 else text[-3000:]


def release_frames(err: BaseException) -> BaseException:
    """``err`` with the local variables of its finished frames (and of its causes') cleared.

    A failed fit is remembered until its last item, and its traceback's frames would keep the
    half-built model alive: on one GPU, the next fit of the same model (another task) would find
    the memory still taken. The frames' code and line numbers stay, so the traceback still prints.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    return err


def load_task_data(session: Session, task_names: list[str]) -> None:
    """Load (and so validate) every selected task's data, and what they are fitted on."""
    needed: list[str] = []
    for name in task_names:
        fits_on = session.tasks[name].fits_on
        if fits_on not in session.tasks:
            owner = session.tasks.owner(name)
            raise PluginError(owner, f"task {name!r} is fitted on unknown task {fits_on!r}")
        for dependency in (fits_on, name):
            if dependency not in needed:
                needed.append(dependency)
    for name in needed:
        spec = session.tasks[name]
        upstream = session.data.get(spec.fits_on) if spec.fits_on != name else None
        session.task_tables[name] = session.profile.task_table(spec, session.config.task_table(name))
        request = LoadRequest(
            table=session.task_tables[name],
            options=session.options,
            config_path=session.config.path,
            upstream=upstream,
            upstream_name=spec.fits_on if upstream is not None else None,
        )
        session.data[name] = session.profile.shrink(spec.load(request))


def pick_device(session: Session, requested: str) -> str:
    wants_torch = any("torch" in item.model.needs for item in session.items if item.skip_reason is None)
    if requested != "auto" or not wants_torch:
        return "cpu" if requested == "auto" else requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class FitCache:
    """Session-scoped fits: one per (model, training task, seed), released after last use."""

    def __init__(self, session: Session, progress: ProgressFactory) -> None:
        self.session = session
        self.progress = progress
        self._fits: dict[tuple[str, str, int, int | None], Fit | BaseException] = {}
        self._last_use = {item.fit_key: index for index, item in enumerate(session.items)}

    def getter(self, item: Item, on_fit: Callable[[], None]) -> Callable[[], Fit]:
        def fitted() -> Fit:
            key = item.fit_key
            if key not in self._fits:
                on_fit()
                try:
                    self._fits[key] = self._fit(item.model, item.task.fits_on, item.seed, item.train_rows)
                except Exception as err:  # remembered: later items of this fit error the same way
                    self._fits[key] = release_frames(err)
            fit = self._fits[key]
            if isinstance(fit, BaseException):
                raise fit
            return fit

        return fitted

    def _fit(self, model: ModelSpec, task: str, seed: int, train_rows: int | None = None) -> Fit:
        """Fit ``model`` on ``task``'s training split, or on its ``train_rows``-row learning-curve
        subset for ``seed``; eval is always the whole eval split."""
        session = self.session
        data = session.data[task]
        train = data.splits["train"]
        if train_rows is not None:
            train = train.take(session.subset_rows(task, seed, train_rows))
        tagging = session.tasks[task].kind == "tagging"
        options = session.config.weight_options(model.name)
        weights, _ = find_weights(model, options)
        recipe = dict(session.recipe(model, task))  # a copy: a plugin that edits it cannot change the key
        common = {
            "spec": model,
            "train": train,
            "eval": data.splits["eval"],
            "seed": seed,
            "recipe": recipe,
            "device": session.device,
            "weights": str(weights) if weights else None,
            "progress": self.progress,
            "allow_pickle": options.allow_pickle,
            "trust_remote_code": options.trust_remote_code,
        }
        with measure() as cost:
            if tagging:
                fitted = model.tag(TagRequest(tag_set=tag_set(data.labels), **common))
            else:
                setup = data.setup or ClassificationSetup()
                run_dir = str(session.store.folder.parent) if session.store is not None else None
                fitted = model.fit(FitRequest(labels=data.labels, setup=setup, run_dir=run_dir, **common))
        return Fit(fitted, cost.seconds, cost.peak_rss_mb, cost.peak_cuda_mb)

    def release_after(self, index: int, item: Item) -> None:
        if self._last_use.get(item.fit_key) == index:
            self._fits.pop(item.fit_key, None)


def _model_info(item: Item, fit: Fit | None) -> dict[str, Any]:
    info = item.model.info()
    info["trainable_params"] = None
    if fit is not None:
        # None: not known here (a served model's weights are on its server)
        info["params"] = None if fit.classifier.params is None else int(fit.classifier.params)
        info["trainable_params"] = int(fit.classifier.trainable_params)
    return info


def error_report(item: Item, reason: str, traceback: str | None = None, **more: Any) -> ItemReport:
    """``item`` as an error that happened outside its task's code (its fit group was lost, say);
    without a traceback, the reason stands in for it (the leaderboard needs one for an error)."""
    info = _model_info(item, None)
    return ItemReport(item, "error", reason[:500], model_info=info, traceback=traceback or reason, **more)


def skipped_report(item: Item) -> ItemReport:
    return ItemReport(item, "skipped", item.skip_reason, model_info=_model_info(item, None))


def run_item(item: Item, session: Session, fits: FitCache, progress: ProgressFactory) -> ItemReport:
    if item.skip_reason:
        return skipped_report(item)
    fitted_here = False

    def mark_fitted() -> None:
        nonlocal fitted_here
        fitted_here = True

    fitted = fits.getter(item, mark_fitted)
    retained: dict[str, Any] = {}
    kept: list[Any] = []
    request = ScoreRequest(
        item.model, item.seed, session.item_data(item), fitted, progress, retained.__setitem__, kept.append
    )
    with measure() as cost:
        try:
            fields = dict(item.task.score(request))
            _refuse_core_fields(item, session, fields)
            error = None
        except Exception as err:
            fields, error = {}, err
    fit = None
    try:
        fit = fitted() if (error is None or fitted_here) else None
    except Exception:
        fit = None
    info = _model_info(item, fit)
    if error is not None:
        reason = f"{type(error).__name__}: {error}"
        return ItemReport(item, "error", reason[:500], cost.seconds, model_info=info, traceback=short_traceback(error))
    train = fit.train_seconds if fit else 0.0
    # A served model trains nothing and loads nothing here: its fit (the canaries) is no training time.
    untrained = fit is not None and getattr(fit.classifier, "no_training_time", False)
    item_cost = {
        "train_seconds": 0.0 if untrained else round(train, 3),
        "predict_seconds": round(max(cost.seconds - (train if fitted_here else 0.0), 0.0), 3),
        "fit_reused": not fitted_here,
        "peak_rss_mb": _round(max(filter(None, [cost.peak_rss_mb, fit.peak_rss_mb if fit else None]), default=None)),
        "peak_cuda_mb": _round(fit.peak_cuda_mb if fit else None),
    }
    details = dict(fit.classifier.details) if fit else {}
    item_cost["train_flops_estimate"] = training_flops(
        info["params"], info["trainable_params"], details.get("train_tokens")
    )
    rows = dataclasses.replace(kept[-1], task=item.task.name) if kept else None
    return ItemReport(
        item, "passed", None, cost.seconds, fields, info, item_cost, details, retained=retained, rows=rows
    )


def _refuse_core_fields(item: Item, session: Session, fields: Mapping[str, Any]) -> None:
    """A task's result must not overwrite what the harness writes for every item (its cost, status...)."""
    clash = sorted(CORE_ITEM_FIELDS & set(fields))
    if clash:
        name = item.task.name
        raise PluginError(
            session.tasks.owner(name),
            f"task {name!r} returned result field(s) "
            f"{', '.join(map(repr, clash))}, which the harness writes itself; rename them",
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def build_session(
    options: argparse.Namespace, models: ModelRegistry, tasks: TaskRegistry, config: RunConfig, profile: Profile
) -> Session:
    model_names = pick(options.models, models.names(), "model")
    every = [name for name in tasks.names() if tasks[name].in_all]
    task_names = every if options.tasks.strip() == "all" else pick(options.tasks, tasks.names(), "task")
    follow_classification_task(tasks, task_names, config)
    seeds = tuple(options.seeds)
    session = Session(options, config, profile, models, tasks, seeds)
    sizes = getattr(options, "train_sizes", None)
    requested = None if sizes is None else parse_train_sizes(sizes)
    curved = [] if sizes is None else refuse_tasks(sizes, tasks, task_names)
    # Data and weights are checked here, before anything runs; a warning (e.g. test rows seen in
    # train) is printed only once all of it passed, so bad input shows its one error line alone.
    with warnings_held():
        load_task_data(session, task_names)
        if requested is not None:
            session.curves = plan_curves(session, requested, curved)
        session.items, session.deselected = collect(
            [models[n] for n in model_names],
            [tasks[n] for n in task_names],
            seeds,
            lambda spec: skip_reason(spec, config.weight_options(spec.name)),
            keyword=options.keyword,
            markers=options.markers,
            refusal=lambda model, task: refusal(session, model, task),
            train_rows={name: plan.subset_rows for name, plan in session.curves.items()},
            curve_followers=bool(getattr(options, "curve_followers", False)),
        )
    return session


def follow_classification_task(tasks: TaskRegistry, task_names: list[str], config: RunConfig) -> None:
    """Point each selected task that ``follows`` at its classification task: the one its table's
    ``task`` key names, else the first selected classification task that fits on itself."""
    own = [n for n in task_names if tasks[n].kind == "classification" and tasks[n].fits_on == n]
    for name in task_names:
        spec = tasks[name]
        if not spec.follows:
            continue
        chosen = config.task_table(name).get("task")
        if chosen is not None:
            where = f"{config.path}: tasks.{name}.task"
            known = [n for n in tasks.names() if tasks[n].kind == "classification" and tasks[n].fits_on == n]
            if chosen not in known:
                raise InputError(where, f"not a classification task: {chosen!r}; known: {', '.join(known)}")
        else:
            chosen = own[0] if own else spec.fits_on
        if chosen != spec.fits_on:
            tasks.replace(dataclasses.replace(spec, fits_on=chosen))


def refusal(session: Session, model: ModelSpec, task: TaskSpec) -> str | None:
    """The model's reason not to take the data its task's classifiers are fitted on, if any."""
    data = session.data.get(task.fits_on)
    if model.refuses is None or task.kind != "classification" or data is None:
        return None
    return model.refuses(tuple(data.labels), data.setup or ClassificationSetup())


class Executor(Protocol):
    """How the fit groups of a session run: :class:`LocalExecutor` here, one after another; the Ray
    executor (``harness.core.executors.ray_cluster``) as Ray tasks. Either hands every item's report
    to ``recorder``, which saves it and tells the hooks, whatever order the items finish in."""

    def start(self) -> None:
        """Get ready (join a cluster, say) once the input has been checked and before the first item."""

    def run(self, session: Session, recorder: Recorder, progress: ProgressFactory) -> None: ...

    def close(self) -> None:
        """Give back what :meth:`start` took; called however the run ended."""


class Recorder:
    """Where every item's report goes as it finishes: the run directory's store (resume), the
    session and the ``harness_item_finished`` hook. Executors share it, so a run started with one
    executor resumes with another."""

    def __init__(self, session: Session, hooks: Hooks) -> None:
        self.session, self.hooks = session, hooks
        self._keys: dict[tuple[str, str | None], str] = {}

    def key(self, item: Item, device: str | None = None) -> str | None:
        """The item's store key (on ``device``, else the session's), or None if it is not stored."""
        if item.skip_reason or self.session.store is None:
            return None
        if (item.name, device) not in self._keys:  # hashed once: looked up, then saved under it
            self._keys[item.name, device] = item_key(item, self.session, device)
        return self._keys[item.name, device]

    def stored(self, item: Item, device: str | None = None) -> ItemReport | None:
        """The item's report as an earlier run finished it, or None."""
        store, key = self.session.store, self.key(item, device)
        return store.load(item, key) if key is not None and store is not None and store.exists() else None

    def started(self, item: Item) -> None:
        self.hooks.item_started(item)

    def save(self, report: ItemReport, device: str | None = None) -> None:
        """Keep a passed item in the run directory (errors and skips run again on resume)."""
        key = self.key(report.item, device)
        if key is not None and self.session.store is not None and report.outcome == "passed":
            self.session.store.save(key, report)

    def finished(self, report: ItemReport) -> None:
        # its per-row predictions are in the store now: the session need not hold them to the end
        self.session.reports.append(dataclasses.replace(report, rows=None) if report.rows is not None else report)
        self.hooks.item_finished(report)


class LocalExecutor:
    """Every item in this process, one after another in collection order (the default)."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def run(self, session: Session, recorder: Recorder, progress: ProgressFactory) -> None:
        session.device = pick_device(session, getattr(session.options, "device", "auto"))
        fits = FitCache(session, progress)
        for index, item in enumerate(session.items):
            report = recorder.stored(item)
            if report is None:
                if not item.skip_reason:
                    recorder.started(item)
                report = run_item(item, session, fits, progress)
                recorder.save(report)
            fits.release_after(index, item)
            recorder.finished(report)


def run_session(
    session: Session,
    hooks: Hooks,
    progress: ProgressFactory,
    executor: Executor | None = None,
    search: Callable[[], None] | None = None,
) -> int:
    """Run every collected item, after ``search`` (``--tune``: it sets the session's tuned
    recipes); return 1 if any errored, else 0 (130 if interrupted)."""
    hooks.collection_finished(session, session.items)
    if session.collect_only:
        return 0
    try:
        if search is not None:
            search()
        (executor or LocalExecutor()).run(session, Recorder(session, hooks), progress)
    except KeyboardInterrupt:  # what finished is saved already; the caller says how to resume
        return EXIT_INTERRUPTED
    # The leaderboard lists items in collection order, whatever order they finished in.
    order = {item.name: index for index, item in enumerate(session.items)}
    session.reports.sort(key=lambda report: order[report.item.name])
    summarise_tasks(session)
    session.finished = time.time()
    return 1 if session.counts()["error"] or session.summary_errors else 0


def summarise_tasks(session: Session) -> None:
    """Each task's run-level section (e.g. model comparisons, a learning curve); a failure is
    recorded, not raised. Learning-curve subset items go to the curve only."""
    for name, data in session.data.items():
        spec = session.tasks[name]
        passed = [r for r in session.reports if r.item.task.name == name and r.outcome == "passed"]
        full = [r for r in passed if r.item.train_rows is None]
        if spec.summarise is None or not full:
            continue
        curve = None
        if name in session.curves:
            models = {r.item.model.name: r.item.model for r in passed}
            curve = LearningCurveRequest(
                subsets=curve_subsets(session, name),
                items=tuple(_scored(r) for r in passed if r.item.train_rows is not None),
                trains={model: spec.trains for model, spec in models.items()},
                recipe_sources={model: session.recipe_source(model, name) for model in models},
            )
        request = SummaryRequest(data, tuple(_scored(r) for r in full), session.seeds, _search_of(session, name), curve)
        try:
            session.summaries[name] = dict(spec.summarise(request))
        except Exception as err:
            session.summary_errors[name] = short_traceback(err)


def _search_of(session: Session, task: str) -> dict[str, Any] | None:
    """The searches of the models fitted on ``task`` (``--tune``), for its summary; None without."""
    fitted_on = session.tasks[task].fits_on
    models = {model: record for (model, on), record in session.searches.items() if on == fitted_on}
    if session.search_budget is None or not models:
        return None
    return {"budget": dict(session.search_budget), "models": models}


def _scored(report: ItemReport) -> ScoredItem:
    return ScoredItem(
        report.item.model.name,
        report.item.seed,
        report.fields,
        report.retained,
        report.model_info,
        report.cost,
        report.fit_details,
        report.item.train_rows,
    )
