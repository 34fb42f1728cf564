"""Requests to an OpenAI-compatible server: retries with back-off, and a response cache.

The cache is a JSON-lines file in the run directory, one line per answered request, keyed by a
SHA-256 of (served model, base URL, endpoint, request body): the prompt and every parameter.
It holds only what scoring reads from a response (an answer's text, its log-probabilities, the
token counts and the latency), never the request's headers: the API key lives in the client's
headers and nowhere else. A resumed run reads the file and re-sends nothing it finds there.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import PluginError
from harness.plugins.served.settings import ServedSettings

PLUGIN = "served"
RESPONSES = "responses"  # the cache's folder in the run directory
RETRIED_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class ContextTooLong(Exception):
    """The server refused the prompt as longer than the model's context."""


def is_context_error(status: int, text: str) -> bool:
    lowered = text.lower()
    return status == 400 and any(
        w in lowered for w in ("context length", "maximum context", "too long", "context window")
    )


class ResponseCache:
    """Answered requests of one served model, kept in the run directory (or in memory without one)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry["value"]
                except (ValueError, KeyError, TypeError):  # a line cut short by a killed run
                    continue

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = value
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as stream:
                    stream.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")


def cache_path(run_dir: str | None, model_name: str) -> Path | None:
    return None if run_dir is None else Path(run_dir) / RESPONSES / f"{model_name}.jsonl"


class ServedClient:
    """One served model's HTTP client (thread-safe: requests run ``concurrency`` at a time)."""

    def __init__(self, settings: ServedSettings, cache: ResponseCache) -> None:
        import httpx

        headers = {}
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if not key:
                raise PluginError(PLUGIN, f"environment variable {settings.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        self.settings = settings
        self.cache = cache
        self.sent = 0  # requests that reached the server and were answered, this process
        self._http = httpx.Client(base_url=settings.base_url, timeout=settings.timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def key(self, path: str, body: Mapping[str, Any]) -> str:
        basis = {"model": self.settings.model, "base_url": self.settings.base_url, "endpoint": path, "body": body}
        return hashlib.sha256(json.dumps(basis, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def request(
        self, path: str, body: Mapping[str, Any], extract: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """``extract(response)`` for ``body`` posted to ``path``, from the cache or the server; and
        whether it came from the cache. ``extract`` keeps only what scoring reads."""
        key = self.key(path, body)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        started = time.perf_counter()
        response = self._post(path, dict(body, model=self.settings.model))
        value = extract(response)
        usage = response.get("usage") or {}
        value["usage"] = {"in": usage.get("prompt_tokens"), "out": usage.get("completion_tokens")}
        value["seconds"] = round(time.perf_counter() - started, 4)
        self.cache.put(key, value)
        return value, False

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with ``retries`` retries on a lost connection, a timeout or a busy server,
        waiting ``retry_backoff`` seconds, doubled before each next try."""
        import httpx

        settings = self.settings
        last = ""
        for attempt in range(settings.retries + 1):
            if attempt:
                time.sleep(settings.retry_backoff * 2 ** (attempt - 1))
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError as err:
                last = f"{type(err).__name__}"
                continue
            if response.status_code in RETRIED_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if is_context_error(response.status_code, response.text):
                raise ContextTooLong(response.text[:200])
            if response.status_code >= 400:
                raise PluginError(
                    PLUGIN, f"{settings.host} answered {path} with HTTP {response.status_code}: {response.text[:300]}"
                )
            try:
                answer = response.json()
            except ValueError:
                raise PluginError(PLUGIN, f"{settings.host} answered {path} with something that is not JSON") from None
            self.sent += 1
            return answer
        raise PluginError(
            PLUGIN,
            f"{settings.host}{path}: no answer after {settings.retries + 1} tries ({last}); "
            "resume the run to send only what is missing",
        )
