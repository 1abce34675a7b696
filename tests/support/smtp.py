"""A real SMTP server on localhost (aiosmtpd) that keeps every message it receives, for the
tests that follow a mailed link."""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.server import free_port


@dataclass
class Mailbox:
    """What the local SMTP server received, in order."""

    url: str
    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd calls its handler's hooks by these names
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, to: str, count: int = 1, timeout: float = 15.0) -> list[EmailMessage]:
        """The messages to `to` once there are `count` of them (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [m for m in self.messages if m["To"] == to]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"{len(found)} of {count} messages to {to}"
                return found
            time.sleep(0.05)

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


@contextlib.contextmanager
def smtp_server() -> Iterator[Mailbox]:
    port = free_port()
    mailbox = Mailbox(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
