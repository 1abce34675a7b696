"""Outgoing mail's settings (SMTP_URL, MAIL_FROM, PUBLIC_URL) and where a reset link goes when
no SMTP server is configured: the log on a plain-http deployment, nowhere in production."""

from __future__ import annotations

import asyncio
import logging

import pytest

from guestlist import mail
from guestlist.config import ConfigError, MailSettings, Settings, load_settings

LINK = "http://127.0.0.1:8000/promotor/miguel/festa-verao#redefinir=" + "ab" * 32
RESET = mail.ResetMail("ana@example.pt", "Ana", LINK, "2030-01-01T12:30:00+00:00")


def test_mail_is_off_by_default() -> None:
    assert load_settings({}).mail == MailSettings()
    assert not load_settings({}).mail.enabled


def test_mail_settings() -> None:
    settings = load_settings(
        {
            "SMTP_URL": "smtp://user:pass@mail.example.pt:587",
            "MAIL_FROM": "Lista <noreply@example.pt>",
            "PUBLIC_URL": "https://lista.example.pt/",
        }
    )
    assert settings.mail == MailSettings(
        "smtp://user:pass@mail.example.pt:587", "Lista <noreply@example.pt>",
        "https://lista.example.pt",
    )  # fmt: skip


@pytest.mark.parametrize(
    "env",
    [
        {"SMTP_URL": "http://mail:25", "MAIL_FROM": "a@b.pt", "PUBLIC_URL": "https://x.pt"},
        {"SMTP_URL": "smtp://mail:x", "MAIL_FROM": "a@b.pt", "PUBLIC_URL": "https://x.pt"},
        {"SMTP_URL": "smtp://mail:25", "PUBLIC_URL": "https://x.pt"},
        # a link's origin is never taken from the request's Host header
        {"SMTP_URL": "smtp://mail:25", "MAIL_FROM": "a@b.pt"},
        {"SMTP_URL": "smtp://mail:25", "MAIL_FROM": "a@b.pt", "PUBLIC_URL": "https://x.pt/a"},
        {"PUBLIC_URL": "lista.example.pt"},
    ],
)
def test_bad_mail_settings_fail_loudly(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_the_message_carries_the_link_and_its_expiry() -> None:
    message = mail.reset_message(RESET, "Lista <noreply@example.pt>")
    text = message.get_content()
    assert message["To"] == "ana@example.pt"
    assert LINK in text and "Olá Ana" in text
    assert "12:30 (hora de Lisboa)" in text  # January: Lisbon is on UTC


def test_without_smtp_a_plain_http_deployment_logs_the_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="guestlist.mail"):
        asyncio.run(mail.deliver_reset(Settings(https=False), RESET))
    [record] = caplog.records
    assert record.getMessage() == "password_reset_link_dev_only"
    assert record.fields["link"] == LINK  # type: ignore[attr-defined]


def test_without_smtp_production_never_logs_the_link(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="guestlist.mail"):
        asyncio.run(mail.deliver_reset(Settings(https=True), RESET))
    [record] = caplog.records
    assert record.getMessage() == "password_reset_mail_not_configured"
    assert "redefinir" not in caplog.text and LINK not in str(record.__dict__)
