"""sd_notify: tell systemd (Type=notify) that the daemon is ready, alive, busy or stopping.

Plain datagrams to $NOTIFY_SOCKET (a path, or '@name' for the abstract namespace), as
sd_notify(3) describes. Without the variable every call does nothing, so the daemon runs
the same under a terminal, a container or `Type=simple`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

LOG = logging.getLogger("rotwatch.daemon")
NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


@dataclass(frozen=True)
class NotifySettings:
    """What systemd handed over: where to send, and how often to ping the watchdog."""

    socket_path: str | None = None
    watchdog_seconds: float | None = None  # half of $WATCHDOG_USEC, as sd_watchdog_enabled says

    @classmethod
    def from_environment(cls, env: Mapping[str, str], pid: int) -> NotifySettings:
        path = env.get("NOTIFY_SOCKET") or None
        if path is not None and not path.startswith(("/", "@")):
            LOG.warning("NOTIFY_SOCKET=%r is neither a path nor '@name': not notifying", path)
            path = None
        watchdog: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        target = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not target or target == str(pid)):
            watchdog = int(usec) / 2e6
        return cls(path, watchdog if path else None)


def take_notify_environment(env: MutableMapping[str, str], pid: int) -> NotifySettings:
    """Read the settings and remove them from `env`, so child processes (which inherit
    it) do not talk to systemd in the daemon's name (sd_notify's unset_environment)."""
    settings = NotifySettings.from_environment(env, pid)
    for name in NOTIFY_VARIABLES:
        env.pop(name, None)
    return settings


class Notifier:
    """Sends notify messages; a failure is logged once and never raised (systemd going
    away must not take the daemon with it)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._address: str | bytes | None = None
        self._warned = False
        path = settings.socket_path
        if path:
            # '@' marks Linux's abstract namespace: the address starts with a NUL byte.
            self._address = b"\0" + path[1:].encode() if path.startswith("@") else path
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never wait for the reader: with its queue full a blocking send would stall
            # every job that reports a status. A message that does not fit is dropped.
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> None:
        if self._sock is None or self._address is None:
            return
        # One datagram per call: systemd reads the fields of one message together.
        message = "\n".join(f.replace("\n", " ") for f in fields).encode()
        with self._lock:
            try:
                self._sock.sendto(message, self._address)
            except OSError as exc:
                if not self._warned:
                    LOG.warning("sd_notify to %s failed: %s", self.settings.socket_path, exc)
                    self._warned = True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
