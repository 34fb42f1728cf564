"""Built-in model plugins, installed as ``harness.plugins``: one module per family and regime."""
