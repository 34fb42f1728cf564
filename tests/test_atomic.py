"""Whole-or-nothing writes: the target is the new content or the old, never a part, and no temporaries stay."""

from __future__ import annotations

import os
import stat

import pytest

from harness.atomic import write_atomically
from harness.errors import InputError
from harness.leaderboard import write_atomic


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_shared_files_get_an_ordinary_files_mode_and_private_ones_stay_0600(tmp_path):
    old = os.umask(0o027)
    try:
        shared = write_atomically(tmp_path / "shared.bin", lambda s: s.write(b"x"), shared=True)
        private = write_atomically(tmp_path / "private.bin", lambda s: s.write(b"x"))
    finally:
        os.umask(old)
    assert _mode(shared) == 0o640 and _mode(private) == 0o600
    assert shared.read_bytes() == b"x"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(stream):
        stream.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, half_then_fail, shared=True)
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_leaderboards_are_readable_by_the_team_and_an_invalid_one_replaces_nothing(tmp_path, run_harness, tiny_config):
    old = os.umask(0o022)
    try:
        code, _, _ = run_harness(
            "run", "--models", "lookup", "--config", str(tiny_config), "--out", str(tmp_path / "r")
        )
    finally:
        os.umask(old)
    assert code == 0
    leaderboard = tmp_path / "r" / "leaderboard.json"
    assert _mode(leaderboard) == 0o644
    before = leaderboard.read_bytes()
    with pytest.raises(InputError):
        write_atomic({"schema_version": 1}, leaderboard)
    assert leaderboard.read_bytes() == before
    assert sorted(p.name for p in leaderboard.parent.iterdir() if p.name.startswith(".")) == []
