"""A served model's ``[models.NAME]`` table, checked, and where its patient text may go.

Every key is read here, before any data is read: a host that is not allowed is one line and
exit 2. The API key is never in the table: ``api_key_env`` names the environment variable that
holds it, read when the fit starts and kept in the client's headers only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.errors import InputError

ENDPOINTS = ("completions", "chat")
SCORING = ("auto", "label_logprobs", "letter_logprobs", "generation")
GUIDED = ("none", "choice", "json_schema")
KEYS = frozenset(
    {
        "base_url",
        "model",
        "api_key_env",
        "endpoint",
        "concurrency",
        "timeout",
        "retries",
        "retry_backoff",
        "allowed_hosts",
        "scoring",
        "guided",
        "max_tokens",
        "api_key",  # never taken: read_settings refuses it with a line of its own
    }
)


@dataclass(frozen=True)
class ServedSettings:
    """How to reach one served model (``docs/served-llms.md`` lists the keys)."""

    base_url: str
    model: str
    api_key_env: str | None = None
    endpoint: str = "chat"
    concurrency: int = 4
    timeout: float = 60.0
    retries: int = 3
    retry_backoff: float = 1.0  # seconds before the first retry; doubled before each next one
    allowed_hosts: tuple[str, ...] = ()
    scoring: str = "auto"
    guided: str = "none"
    max_tokens: int = 16

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _string(where: str, table: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = table.get(key, default)
    if value is not None and (not isinstance(value, str) or not value):
        raise InputError(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
    return value


def _choice(where: str, table: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = table.get(key, choices[0])
    if value not in choices:
        raise InputError(f"{where}.{key}", f"expected one of {', '.join(choices)}; got {value!r}")
    return value


def _number(where: str, table: Mapping[str, Any], key: str, default: float, low: float, integer: bool) -> Any:
    value = table.get(key, default)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < low:
        raise InputError(
            f"{where}.{key}", f"expected {'a whole number' if integer else 'a number'} >= {low}, got {value!r}"
        )
    return value


def read_settings(table: Mapping[str, Any], where: str) -> ServedSettings:
    """The table's settings, or one ``InputError`` naming the key."""
    if "api_key" in table:
        raise InputError(
            f"{where}.api_key",
            "a key is never read from the config; set api_key_env to the name "
            "of the environment variable that holds it",
        )
    base_url = _string(where, table, "base_url")
    model = _string(where, table, "model")
    if base_url is None or model is None:
        missing = "base_url" if base_url is None else "model"
        raise InputError(f"{where}.{missing}", "required for a served model")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"{where}.base_url", f"expected an http(s) URL such as http://127.0.0.1:8000/v1, got {base_url!r}"
        )
    hosts = table.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise InputError(f"{where}.allowed_hosts", f"expected a list of host names, got {hosts!r}")
    settings = ServedSettings(
        base_url=base_url.rstrip("/"),
        model=model,
        api_key_env=_string(where, table, "api_key_env"),
        endpoint=_choice(where, table, "endpoint", ("chat", "completions")),
        concurrency=_number(where, table, "concurrency", 4, 1, True),
        timeout=float(_number(where, table, "timeout", 60.0, 0.001, False)),
        retries=_number(where, table, "retries", 3, 0, True),
        retry_backoff=float(_number(where, table, "retry_backoff", 1.0, 0, False)),
        allowed_hosts=tuple(h.lower() for h in hosts),
        scoring=_choice(where, table, "scoring", SCORING),
        guided=_choice(where, table, "guided", GUIDED),
        max_tokens=_number(where, table, "max_tokens", 16, 1, True),
    )
    check_host(settings, where)
    return settings


def check_host(settings: ServedSettings, where: str) -> None:
    """Patient text goes to loopback hosts only, unless the config lists the host."""
    host = settings.host.lower()
    if not is_loopback(host) and host not in settings.allowed_hosts:
        raise InputError(
            f"{where}.base_url",
            f"host {host!r} is not this machine and not in allowed_hosts: patient text would leave it; "
            f'if it may, add allowed_hosts = ["{host}"] to the table',
        )
