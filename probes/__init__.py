"""Probe files (JSONL), installed as ``harness.probes``."""
