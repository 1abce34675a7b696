"""Outgoing mail: the password reset link, sent through SMTP (config.MailSettings) with the
standard library, off the event loop. With no SMTP configured, a plain-http deployment
(`make run`) logs the link instead (one JSON line, event `password_reset_link_dev_only`); a
production one (HTTPS on) logs only that the mail could not be sent, never the link."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from guestlist.config import MailSettings, Settings

log = logging.getLogger("guestlist.mail")

SMTP_TIMEOUT_SECONDS = 15.0
LISBON = ZoneInfo("Europe/Lisbon")
RESET_SUBJECT = "Definir uma nova palavra-passe"


@dataclass(frozen=True)
class ResetMail:
    """A reset link for one account (the answer of api.request_password_reset, made a link)."""

    to: str
    first_name: str
    link: str
    expires_at: str  # ISO 8601, as SQL wrote it


def _expiry_text(expires_at: str) -> str:
    try:
        when = datetime.fromisoformat(expires_at).astimezone(LISBON)
    except ValueError:
        return "daqui a 30 minutos"
    return f"às {when:%H:%M} (hora de Lisboa)"


def reset_message(mail: ResetMail, mail_from: str) -> EmailMessage:
    """The reset mail (pt-PT, plain text): the link, when it stops working, and what to do if
    the guest did not ask for it."""
    message = EmailMessage()
    message["Subject"] = RESET_SUBJECT
    message["From"] = mail_from
    message["To"] = mail.to
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2].strip("> ") or None)
    message.set_content(
        f"Olá {mail.first_name},\n\n"
        "Pediste para definir uma nova palavra-passe. Abre este link para a escolher:\n\n"
        f"{mail.link}\n\n"
        f"O link só funciona uma vez e deixa de funcionar {_expiry_text(mail.expires_at)}. "
        "Depois de definires a nova palavra-passe, as sessões abertas noutros aparelhos "
        "terminam.\n\n"
        "Se não foste tu que pediste, ignora este email: a tua palavra-passe continua a mesma.\n"
    )
    return message


def send_sync(settings: MailSettings, message: EmailMessage) -> None:
    """Send one message through SMTP_URL (blocking: call it in a thread). smtp:// upgrades to
    TLS when the server offers STARTTLS; smtps:// is TLS from the start; a user and password
    in the URL log in."""
    url = urlsplit(settings.smtp_url)
    host = url.hostname or ""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if url.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        smtp = smtplib.SMTP(host, url.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        smtp.ehlo()
        if url.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)


async def deliver_reset(settings: Settings, mail: ResetMail) -> None:
    """Send a reset mail, or log the link where that is safe (see the module docstring).
    Runs after the answer has gone (a background task): a failure is logged, never raised,
    and a guest who gets no mail asks again."""
    if settings.mail.enabled:
        try:
            await asyncio.to_thread(
                send_sync, settings.mail, reset_message(mail, settings.mail.mail_from)
            )
        except (OSError, smtplib.SMTPException) as exc:
            # the class only: an SMTP error may quote the recipient
            log.error("password_reset_mail_failed", extra={"fields": {"error": type(exc).__name__}})
        else:
            log.info("password_reset_mail_sent")
        return
    if settings.https:
        log.error(
            "password_reset_mail_not_configured",
            extra={"fields": {"hint": "set SMTP_URL, MAIL_FROM and PUBLIC_URL"}},
        )
        return
    log.warning(
        "password_reset_link_dev_only",
        extra={
            "fields": {
                "link": mail.link,
                "note": "no SMTP_URL on a plain-http deployment: "
                "the link is logged instead of mailed (never in production)",
            }
        },
    )
