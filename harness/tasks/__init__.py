"""Built-in task plugins, installed as ``harness.tasks``, and the embedded synthetic data."""
