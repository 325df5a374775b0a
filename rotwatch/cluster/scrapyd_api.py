"""A small client of Scrapyd's JSON API: addversion, schedule, listjobs, cancel, status.

Each call has a timeout and is retried a few times (tenacity) when the node cannot be
reached or answers 5xx; after that it raises `NodeUnreachable`, which the coordinator
reads as "this node is gone". A node that answers `"status": "error"` raises `NodeError`
with Scrapyd's message. Requests go straight to the node, never through a proxy from the
environment. Credentials in a node's URL are sent as HTTP basic auth.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# addversion.json loads the egg's spiders in a new process (`scrapy list`) before it
# answers, and schedule.json does too when the node has not listed that version since it
# started: seconds on an idle node, far more on a busy one. Not a sign of a dead node.
SLOW_CALL_TIMEOUT = 120.0


class NodeUnreachable(Exception):
    """The node did not answer (connection refused, timeout, 5xx) after the retries."""


class NodeError(Exception):
    """The node answered with an error (Scrapyd's `"status": "error"`)."""


class _Transient(Exception):
    pass


@dataclass(frozen=True)
class Jobs:
    pending: frozenset[str]
    running: frozenset[str]
    finished: frozenset[str]

    def state(self, job_id: str) -> str | None:
        for name in ("pending", "running", "finished"):
            if job_id in getattr(self, name):
                return name
        return None


class ScrapydNode:
    def __init__(self, url: str, *, timeout: float = 10.0, attempts: int = 3,
                 project: str = "rotwatch") -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        # Credentials in the URL (http://user:pass@node:6800) become HTTP basic auth,
        # Scrapyd's own; they never appear in messages or `status`.
        self._auth: str | None = None
        if parts.username is not None:
            pair = f"{urllib.parse.unquote(parts.username)}:" \
                   f"{urllib.parse.unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(pair.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url = parts.geturl()
        self.timeout = timeout
        self.attempts = attempts
        self.project = project

    def __repr__(self) -> str:
        return f"ScrapydNode({self.url!r})"

    # ---- the calls ----------------------------------------------------------------------
    def daemon_status(self) -> dict[str, Any]:
        return self._call("GET", "daemonstatus.json")

    def versions(self) -> list[str]:
        try:
            found = self._call("GET", "listversions.json", {"project": self.project})
        except NodeError:
            return []
        return [str(v) for v in found.get("versions", [])]

    def add_version(self, version: str, egg: bytes) -> None:
        self._call("POST", "addversion.json",
                   {"project": self.project, "version": version}, files={"egg": egg},
                   slow=True)

    def schedule(self, spider: str, job_id: str, *, version: str,
                 settings: Sequence[str] = (), args: dict[str, str] | None = None) -> str:
        fields: list[tuple[str, str]] = [("project", self.project), ("spider", spider),
                                         ("jobid", job_id), ("_version", version)]
        fields += [("setting", s) for s in settings]
        fields += list((args or {}).items())
        return str(self._call("POST", "schedule.json", fields, slow=True)["jobid"])

    def jobs_detail(self) -> dict[str, Any]:
        """listjobs.json as Scrapyd answers it (start and end times included)."""
        return self._call("GET", "listjobs.json", {"project": self.project})

    def jobs(self) -> Jobs:
        found = self.jobs_detail()

        def ids(key: str) -> frozenset[str]:
            return frozenset(str(j["id"]) for j in found.get(key, []))

        return Jobs(ids("pending"), ids("running"), ids("finished"))

    def cancel(self, job_id: str) -> str | None:
        # SIGTERM: the crawl closes gracefully; a second cancel would stop it at once.
        found = self._call("POST", "cancel.json",
                           {"project": self.project, "job": job_id, "signal": "TERM"})
        state = found.get("prevstate")
        return str(state) if state else None

    # ---- transport ----------------------------------------------------------------------
    def _call(self, method: str, endpoint: str,
              fields: dict[str, str] | list[tuple[str, str]] | None = None,
              files: dict[str, bytes] | None = None, slow: bool = False) -> dict[str, Any]:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        url = f"{self.url}/{endpoint}"
        body: bytes | None = None
        headers: dict[str, str] = {"Authorization": self._auth} if self._auth else {}
        if method == "GET":
            url += "?" + urllib.parse.urlencode(pairs) if pairs else ""
        elif files:
            body, content_type = _multipart(pairs, files)
            headers["Content-Type"] = content_type
        else:
            body = urllib.parse.urlencode(pairs).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            for attempt in Retrying(stop=stop_after_attempt(self.attempts),
                                    wait=wait_exponential(multiplier=0.2, max=2),
                                    retry=retry_if_exception_type(_Transient)):
                with attempt:
                    answer = self._send(request, max(self.timeout, SLOW_CALL_TIMEOUT)
                                        if slow else self.timeout)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise NodeUnreachable(f"{self.url}: {cause}") from None
        if answer.get("status") == "error":
            raise NodeError(f"{self.url} {endpoint}: {answer.get('message', 'error')}")
        return answer

    def _send(self, request: urllib.request.Request, timeout: float) -> dict[str, Any]:
        try:
            with _DIRECT.open(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise _Transient(f"HTTP {exc.code}") from exc
            raise NodeError(f"{request.full_url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            raise _Transient(str(getattr(exc, "reason", exc))) from exc
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise NodeError(f"{request.full_url}: not JSON: {raw[:100]!r}") from exc
        if not isinstance(value, dict):
            raise NodeError(f"{request.full_url}: not a JSON object")
        return value


def _multipart(fields: list[tuple[str, str]], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, data in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{name}.egg"\r\nContent-Type: application/octet-stream'
                     "\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
