"""What a Ray worker checks before it fits, as pure functions: each mismatch names the field that
differs (the end-to-end runs are in tests/test_ray_executor.py and tests/test_ray_cluster.py)."""

from __future__ import annotations

from types import SimpleNamespace

from harness.core.executors.worker import (
    GroupJob,
    canonical_provenance,
    data_mismatch,
    first_difference,
    harness_origin,
    weights_difference,
)
from harness.core.weights import FINGERPRINT_BYTES, weights_fingerprint


def _job(provenance) -> GroupJob:
    return GroupJob("m", "probe", 42, ("probe",), "cpu", {"probe": canonical_provenance(provenance)})


def _session(provenance):
    return SimpleNamespace(data={"probe": SimpleNamespace(provenance=provenance)})


def test_a_file_read_elsewhere_is_named_by_its_path_not_by_two_equal_hashes():
    mine = [{"probe_file": "/other/checkout/seed_spotcheck.jsonl", "sha256": "a4a4f0e4", "cases": 15}]
    driver = [{"probe_file": "/repo/seed_spotcheck.jsonl", "sha256": "a4a4f0e4", "cases": 15}]
    reason = data_mismatch(_session(mine), _job(driver), "10.0.0.2")
    assert reason.startswith("data differs from the driver's: task probe, /repo/seed_spotcheck.jsonl: probe_file ")
    assert (
        "/other/checkout/seed_spotcheck.jsonl read on node 10.0.0.2, /repo/seed_spotcheck.jsonl read by the driver"
        in reason
    )
    assert "a4a4f0e4" not in reason


def test_other_bytes_are_named_by_their_hashes_first():
    mine = [{"split": "eval", "source": "/data/eval.csv", "sha256": "1111", "rows": 5}]
    driver = [{"split": "eval", "source": "/data/eval.csv", "sha256": "2222", "rows": 4}]
    reason = data_mismatch(_session(mine), _job(driver), "n")
    assert "task probe, eval: SHA-256 1111 read on node n, 2222 read by the driver" in reason
    assert data_mismatch(_session(driver), _job(driver), "n") is None


def test_the_origin_names_this_checkout_and_first_difference_the_first_field_that_differs():
    origin = harness_origin()
    assert origin["location"].endswith("harness") and len(origin["sources_sha256"]) == 64
    fields = ("location", "version", "sources_sha256")
    assert first_difference(fields, origin, dict(origin)) is None
    assert first_difference(fields, origin, {**origin, "version": "0", "sources_sha256": "x"}) == "version"


def test_a_weights_fingerprint_reads_each_end_and_skips_hidden_files(tmp_path):
    folder = tmp_path / "w"
    (folder / ".cache").mkdir(parents=True)
    (folder / ".cache" / "download.lock").write_text("machine-specific")
    (folder / "config.json").write_text("{}")
    big = bytearray(3 * FINGERPRINT_BYTES)
    (folder / "model.safetensors").write_bytes(bytes(big))
    first = weights_fingerprint(folder)
    assert sorted(first["files"]) == ["config.json", "model.safetensors"]
    assert first["files"]["model.safetensors"]["bytes"] == 3 * FINGERPRINT_BYTES
    big[FINGERPRINT_BYTES + 7] = 1  # the middle MiB: not read, by design
    (folder / "model.safetensors").write_bytes(bytes(big))
    assert weights_fingerprint(folder) == first
    big[-1] = 1  # the last MiB
    (folder / "model.safetensors").write_bytes(bytes(big))
    changed = weights_fingerprint(folder)
    assert weights_difference(changed, first).startswith("file model.safetensors: content")
    assert weights_fingerprint(None) is None


def test_weights_differences_name_the_folder_the_file_or_its_size():
    one = {"folder": "/w", "files": {"a": {"bytes": 1, "ends_sha256": "x"}}}
    assert weights_difference(one, dict(one)) is None
    assert weights_difference(None, one) == "folder none found, /w"
    assert weights_difference({**one, "folder": "/v"}, one) == "folder /v, /w"
    assert weights_difference({**one, "files": {}}, one) == "file a: absent, present"
    bigger = {**one, "files": {"a": {"bytes": 2, "ends_sha256": "x"}}}
    assert weights_difference(bigger, one) == "file a: 2 bytes, 1 bytes"
