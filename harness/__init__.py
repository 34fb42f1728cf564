"""An evaluation harness that fine-tunes and benchmarks clinical language models.

The public API for plugin authors::

    from harness import hookimpl, ModelSpec, FitRequest, DecisionRule

    @hookimpl
    def harness_add_models(register):
        register.add(ModelSpec(name="my-model", family="encoder", fine_tuning_regime="full", fit=my_fit))

Importing this package is cheap: torch and friends are only imported by the plugins that
train models, when they train.
"""

from harness.data import LabelledSplit
from harness.errors import HarnessError, InputError, PluginError, UsageError
from harness.hookspecs import hookimpl, hookspec
from harness.model import ClassificationSetup, DecisionRule, FitRequest, FittedClassifier, ModelSpec
from harness.task import Fit, LoadRequest, ScoreRequest, TaskData, TaskSpec

__version__ = "0.1.0"

__all__ = [
    "ClassificationSetup",
    "DecisionRule",
    "Fit",
    "FitRequest",
    "FittedClassifier",
    "HarnessError",
    "InputError",
    "LabelledSplit",
    "LoadRequest",
    "ModelSpec",
    "PluginError",
    "ScoreRequest",
    "TaskData",
    "TaskSpec",
    "UsageError",
    "__version__",
    "hookimpl",
    "hookspec",
]
