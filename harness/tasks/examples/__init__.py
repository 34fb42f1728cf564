"""Three small embedded SYNTHETIC example tasks (``example-smoking``, ``example-ade``, ``example-nli``).

Each folder holds a ``task.toml`` (the table a user would write under ``[tasks.NAME]``) and its
data files; ``generate.py`` rebuilds them.  See ``README.md`` in this folder.
"""
