"""The ``indications`` task: multi-label classification of antibiotic indications.

Twelve infection-source categories, as in the seed study: a preset of the classification kind
(:mod:`harness.tasks.classification`), which scores it and draws its tables. Default data is the
embedded SYNTHETIC set (``data/``, see harness/tasks/indications/README.md);
``[tasks.indications]`` in the config points any split at the user's files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness import hookimpl
from harness.data import LabelledSplit, load_split
from harness.leaderboard import SYNTHETIC_NOTE
from harness.tasks.classification import task_spec
from harness.tasks.classification.loading import EVIDENCE_KEYS, Preset
from harness.tasks.indications import terms as indication_terms

NAME = "indications"
CATEGORIES = (
    "urinary",
    "respiratory",
    "abdominal",
    "neurological",
    "skin_soft_tissue",
    "ent",
    "orthopaedic",
    "other_specific",
    "no_specific_source",
    "prophylaxis",
    "uncertainty",
    "not_informative",
)
EMBEDDED_SPLITS = ("train", "eval", "internal", "external")
# The twelve labels, their 0/1 columns (named as the labels), multi-label: the seed study's shape.
PRESET_TABLE = {"problem": "multi-label", "labels": list(CATEGORIES), "label_columns": list(CATEGORIES)}
CONFIG_KEYS = frozenset({"train", "eval", "tests", "keep_embedded_tests", "learning_curve_tolerance", *EVIDENCE_KEYS})


def embedded_path(split: str) -> Path:
    return Path(str(files("harness.tasks.indications") / "data" / f"indications_{split}.csv"))


def _embedded(split: str) -> LabelledSplit:
    path = embedded_path(split)
    return load_split(split, path, CATEGORIES, source=f"embedded:{path.name}", synthetic=True, public=True)


PRESET = Preset(
    table=PRESET_TABLE,
    embedded={split: embedded_path(split) for split in EMBEDDED_SPLITS},
    embedded_tests=("internal", "external"),
    terms=indication_terms,
    # The seed study asked its zero-shot model for one category per indication.
    single_answer_multi_label=True,
    note=SYNTHETIC_NOTE,
)


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        task_spec(
            NAME,
            "Multi-label classification of antibiotic indications into 12 source categories",
            PRESET,
            CONFIG_KEYS,
        )
    )
