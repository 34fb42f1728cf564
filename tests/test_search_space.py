"""The search-space syntax (harness/search.py), the effective space of a plan (the recipe is
trial 0), and every built-in model's default space against its recipes."""

from __future__ import annotations

import pytest

from harness.core.hooks import Hooks
from harness.core.manager import make_plugin_manager
from harness.core.profiles import PROFILES
from harness.core.search.plan import effective_space, parse_duration, why_new
from harness.errors import InputError
from harness.model import ModelSpec
from harness.search import Dimension, parse_space, space_as_config

RECIPE = {"lr": 2e-4, "epochs": 6, "pos_weight": None, "batch_size": 32}


def test_the_syntax_reads_choices_and_ranges_and_none():
    space = parse_space(
        {
            "lr": {"log_uniform": [1e-5, 5e-4]},
            "epochs": [3, 6, 10],
            "pos_weight": ["none", "balanced"],
            "batch_size": {"int": [8, 64]},
        },
        RECIPE,
        "where",
    )
    assert space["lr"] == Dimension("lr", "log_uniform", (1e-5, 5e-4))
    assert space["epochs"] == Dimension("epochs", "choice", (3, 6, 10))
    assert space["pos_weight"].values == (None, "balanced")
    assert (
        space["batch_size"].values == (8, 64)
        and space["batch_size"].contains(32)
        and not space["batch_size"].contains(32.5)
    )
    assert space_as_config(space)["pos_weight"] == ["none", "balanced"]


@pytest.mark.parametrize(
    ("table", "where", "words"),
    [
        ({"lrr": [1]}, "s.lrr", "unknown recipe key; this model's: batch_size, epochs, lr, pos_weight"),
        ({"lr": 1e-4}, "s.lr", "expected a list of choices, or a range table such as"),
        ({"lr": []}, "s.lr", "an empty list of choices"),
        (
            {"lr": {"normal": [0, 1]}},
            "s.lr",
            "expected one of uniform, log_uniform, int, log_int = [low, high], got normal",
        ),
        ({"lr": {"log_uniform": [0, 1]}}, "s.lr.log_uniform", "a log range needs low > 0, got 0"),
        ({"lr": {"uniform": [1, 1]}}, "s.lr.uniform", "expected low < high, got [1, 1]"),
        ({"lr": {"uniform": [1]}}, "s.lr.uniform", "expected [low, high], two numbers"),
        ({"epochs": {"int": [1.5, 3]}}, "s.epochs.int", "expected two integers"),
        ({"epochs": [[1, 2]]}, "s.epochs", "a choice must be a number, a string or true/false"),
        ({"lr": False}, "s.lr", "expected a list of choices"),  # only a config may leave a key out
    ],
)
def test_every_bad_entry_is_one_error_naming_its_key(table, where, words):
    with pytest.raises(InputError) as caught:
        parse_space(table, RECIPE, "s")
    assert caught.value.where == where
    assert words in caught.value.problem


def _model(space) -> ModelSpec:
    return ModelSpec("m", "fake", "memorise", None, recipe=RECIPE, search_space=space)


def test_the_effective_space_holds_the_recipe_and_drops_pinned_and_removed_keys():
    model = _model({"lr": {"log_uniform": [1e-5, 1e-4]}, "epochs": [3, 10], "pos_weight": ["balanced"]})
    space, why = effective_space(model, {"batch_size": [16, 64]}, RECIPE, {"epochs"}, "cfg")
    assert why is None and "epochs" not in space  # the profile pins it
    assert space["lr"].values == (1e-5, 2e-4)  # widened to reach the recipe's 2e-4
    assert space["pos_weight"].values == (None, "balanced")  # the recipe's value joins the choice
    assert space["batch_size"].values == (32, 16, 64)
    space, _ = effective_space(model, {"lr": False}, RECIPE, set(), "cfg")
    assert "lr" not in space
    assert effective_space(model, False, RECIPE, set(), "cfg") == (
        {},
        "its search is turned off in the config (search = false)",
    )
    assert effective_space(_model({}), None, RECIPE, set(), "cfg") == ({}, "it has no search space")


def test_a_range_that_cannot_hold_the_recipes_value_is_an_error_naming_the_key():
    with pytest.raises(InputError) as caught:
        effective_space(_model({}), {"pos_weight": {"uniform": [0.5, 2.0]}}, RECIPE, set(), "cfg: models.m.search")
    assert caught.value.where == "cfg: models.m.search.pos_weight"
    assert "the recipe's none cannot lie in a uniform range" in caught.value.problem


def test_a_model_space_over_a_key_its_recipe_lacks_fails_at_registration():
    with pytest.raises(ValueError, match="search_space.lrr: unknown recipe key"):
        _model({"lrr": [1, 2]})


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_built_in_space_holds_every_recipe_it_will_start_from(profile, device):
    models = Hooks(make_plugin_manager()).models()
    searched = 0
    for name in models.names():
        model = models[name]
        recipe = PROFILES[profile].recipe_for(model, device)
        space, why = effective_space(model, None, recipe, set(PROFILES[profile].recipe), "built-in")
        assert all(dimension.contains(recipe.get(key)) for key, dimension in space.items()), name
        searched += bool(space)
        if model.fit is not None and "torch" in model.needs and model.recipe.get("epochs"):
            assert model.search_space, f"{name} trains in epochs but has no search space"
    assert searched >= 10


def test_durations():
    assert parse_duration("20m") == 1200 and parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400
    for bad in ("", "20 minutes", "0s", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_why_a_search_is_not_resumed():
    old = {"space": {"lr": [1]}, "trials": 8, "data": {"train": "a"}}
    new = {"space": {"lr": [2], "epochs": [3]}, "trials": 16, "data": {"train": "b"}}
    assert why_new(old, new) == (
        "the search space changed (epochs, lr); the number of trials changed (8 → 16); the train or eval data changed"
    )
