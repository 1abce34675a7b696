"""The one error mapper: SQL refusals and exceptions → HTTP status + JSON body.

Two sources of refusals, one shape for the client:

* the seed's guest functions RETURN
  `{"success": false, "code", "error", "errors"?, "retry_after"?, "attempts_left"?,
  "lock_minutes"?}`;
* every other function RAISEs `SQLSTATE PTxyz` (xyz = HTTP status) with MESSAGE = pt-PT text and
  DETAIL = `{"code", "retry_after"?, "errors"?}`.

Both become `ApiError(status, code, message, errors, retry_after)`; `CODES` is the single
code → status and message table. Anything unexpected becomes a generic 500 that carries no
SQL text, no stack and no input; only the exception class and SQLSTATE go to the log
(`ApiError.log_hint`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
import psycopg_pool
from starlette.responses import Response

# code → (HTTP status, pt-PT fallback message). The only table; SQL codes come from
# docs/contract.md, the rest are the app's own (body parsing, routing, infrastructure). The
# message is used when SQL sent none or the app produced the code itself.
CODES: dict[str, tuple[int, str]] = {
    # Every text says what to do next (tests/unit/test_messages.py); where SQL sends the same
    # code, the text is SQL's own (app._message, sql/00_helpers.sql).
    "invalid_input": (400, "Dados inválidos. Corrige os campos assinalados."),
    "invalid_credentials": (
        401,
        "Telemóvel ou palavra-passe incorretos. Confirma-os e tenta de novo, ou escolhe "
        "«Esqueci-me da palavra-passe».",
    ),
    "session_invalid": (401, "A tua sessão terminou ou expirou. Entra de novo com o teu número."),
    "unauthorized": (401, "Não autorizado. Envia um token de administração válido."),
    "forbidden": (403, "Acesso negado. Faz este pedido a partir da página do evento."),
    "event_not_found": (404, "Evento não encontrado. Confirma o link com quem to enviou."),
    "page_not_found": (404, "Página não encontrada. Confirma o link com quem to enviou."),
    "promoter_not_found": (
        404,
        "Este promotor ou equipa não trabalha este evento. Pede um novo link ao teu promotor.",
    ),
    "job_not_found": (404, "Pedido não encontrado. Submete o formulário novamente."),
    "qr_not_found": (
        404,
        "Código QR não encontrado. Abre de novo a página do evento para veres o teu código.",
    ),
    "not_found": (404, "Endereço não encontrado. Confirma o link com quem to enviou."),
    "method_not_allowed": (405, "Método não permitido. Usa o método que a API indica."),
    "job_expired": (410, "O teu pedido expirou antes de ser processado. Submete-o novamente."),
    # a reset link that is used, replaced or expired no longer exists
    "reset_link_invalid": (
        404,
        "Este link de recuperação já não é válido. Pede um novo em «Esqueci-me da palavra-passe».",
    ),
    "phone_exists": (
        409,
        "Este telemóvel já está registado. Entra com a tua palavra-passe.",
    ),
    "guest_list_closed": (
        409,
        "A lista de convidados deste evento já fechou. Fala com o teu promotor.",
    ),
    "guest_list_full": (
        409,
        "A lista de convidados deste evento está completa. Fala com o teu promotor.",
    ),
    "conflict": (409, "Conflito com dados existentes. Atualiza a página e tenta novamente."),
    # --- staff, console, quotas and minimum ages ---
    "invite_invalid": (
        404,
        "Este convite já não é válido: foi usado ou expirou. Pede um novo a quem te convidou.",
    ),
    "slug_taken": (409, "Este endereço já está a ser usado. Escolhe outro."),
    "event_over": (
        409,
        "Este evento começou há mais de 12 horas: um link da porta já não abriria. "
        "Escolhe um evento por vir.",
    ),
    "last_owner": (
        409,
        "É o único dono da organização. Convida outro dono e tenta de novo.",
    ),
    "capacity_below_count": (
        409,
        "Já há mais convidados na lista do que essa capacidade. Indica uma capacidade maior.",
    ),
    "promoter_quota_full": (
        409,
        "A lista deste promotor para este evento está completa. Fala com o teu promotor.",
    ),
    "too_young": (
        409,
        "Este evento tem idade mínima e ainda não a tens. Fala com o teu promotor se for um erro.",
    ),
    "birth_date_known": (
        409,
        "A tua data de nascimento já está registada. Entra com a tua palavra-passe.",
    ),
    "birth_date_required": (
        422,
        "Este evento tem idade mínima. Indica a tua data de nascimento.",
    ),
    # ---
    "payload_too_large": (413, "Pedido demasiado grande. Encurta os campos e tenta novamente."),
    "unsupported_media_type": (
        415,
        "O pedido tem de ser JSON. Envia-o com Content-Type: application/json.",
    ),
    "account_locked": (
        429,
        "Demasiadas tentativas falhadas. Espera o tempo indicado e tenta de novo, ou define uma "
        "nova palavra-passe em «Esqueci-me da palavra-passe».",
    ),
    "rate_limited": (429, "Demasiados pedidos. Tenta novamente daqui a pouco."),
    # the door (/api/door/…, sql/66_door.sql)
    "door_invalid": (
        401,
        "Este link da porta não é válido (foi revogado ou o evento já terminou). Pede um novo "
        "ao organizador.",
    ),
    "guest_not_found": (404, "Convidado não encontrado. Procura-o de novo pelo nome."),
    "scan_id_taken": (
        409,
        "Este identificador de leitura já foi usado por outra porta. Lê o código de novo.",
    ),
    "too_many_scans": (413, "No máximo 500 leituras de cada vez. Envia-as em lotes mais pequenos."),
    "internal": (500, "Ocorreu um erro. Tenta novamente daqui a pouco."),
    "queue_full": (503, "Serviço sobrecarregado. Tenta novamente daqui a pouco."),
    "unavailable": (503, "Serviço temporariamente indisponível. Tenta novamente daqui a pouco."),
    "timeout": (504, "O serviço demorou demasiado a responder. Tenta novamente daqui a pouco."),
}
CODE_STATUS: dict[str, int] = {code: status for code, (status, _) in CODES.items()}
DEFAULT_MESSAGES: dict[str, str] = {code: text for code, (_, text) in CODES.items()}

# SQL parameter / column names → the JSON keys the client sent.
FIELD_KEYS: dict[str, str] = {
    "phone": "phone",
    "password": "password",
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "event_id": "eventId",
    "promoter_id": "promoterId",
    "team_id": "teamId",
    "birth_date": "birthDate",
    "gender": "gender",
    "city": "city",
    "job_id": "jobId",
    "qr_code": "qrCode",
}

# Codes whose SQL message is safe to show (written by our functions, pt-PT, no SQLERRM).
# 5xx other than the explicit "busy" codes always get the generic text.
_PASS_THROUGH_5XX = {"queue_full", "unavailable", "timeout"}

# The server undid the statement for a reason of the moment, not of the request: a
# serialization failure or a deadlock (still there after db.call's own retries), a lock or
# statement timeout, a cancel. The same request may well succeed a second later.
_TRANSIENT_STATES = ("40001", "40P01", "55P03", "57014")
# Retry-After of every busy answer the database's state gives (those above; the primary
# restarting or failing over; pgbouncer's query_wait_timeout; no pooled connection in time):
# the page and any client wait this long and ask again.
BUSY_RETRY_SECONDS = 1


def json_key(field_name: str) -> str:
    """`first_name` / `p_first_name` → `firstName`; unknown names are camel-cased."""
    name = field_name.removeprefix("p_")
    if name in FIELD_KEYS:
        return FIELD_KEYS[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass
class ApiError(Exception):
    """A refusal on its way to the client."""

    status: int
    code: str
    message: str
    errors: list[dict[str, str]] | None = None
    retry_after: int | None = None
    log_hint: str | None = field(default=None, compare=False)
    # invalid_credentials: the wrong passwords this client may still try before it is locked out
    attempts_left: int | None = None
    # …and how many minutes the lock lasts once they are used up
    lock_minutes: int | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": False, "code": self.code, "error": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.attempts_left is not None:
            out["attempts_left"] = self.attempts_left
        if self.lock_minutes is not None:
            out["lock_minutes"] = self.lock_minutes
        return out

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(self.retry_after)}


def api_error(
    code: str,
    message: str | None = None,
    errors: list[dict[str, str]] | None = None,
    retry_after: int | None = None,
    status: int | None = None,
) -> ApiError:
    """Build an ApiError for `code`, its status from CODE_STATUS (or `status` if unknown)."""
    resolved = CODE_STATUS.get(code, status or 500)
    if resolved >= 500 and code not in _PASS_THROUGH_5XX:
        message = None
    if resolved >= 500 and code not in CODE_STATUS:
        code = "internal"
    text = message if isinstance(message, str) and message.strip() else None
    return ApiError(
        status=resolved,
        code=code,
        message=text or DEFAULT_MESSAGES.get(code, DEFAULT_MESSAGES["internal"]),
        errors=errors,
        retry_after=retry_after,
    )


def field_error(field_name: str, code: str, message: str) -> dict[str, str]:
    return {"field": field_name, "code": code, "message": message}


def invalid_input(errors: list[dict[str, str]], message: str | None = None) -> ApiError:
    return api_error("invalid_input", message, errors=errors)


def _retry_after(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    return max(1, math.ceil(value))


def _attempts_left(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(0, value)


def _field_errors(value: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        return None
    out: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        name = item.get("field")
        out.append(
            field_error(
                json_key(name) if isinstance(name, str) and name else "body",
                str(item.get("code") or "invalid"),
                str(item.get("message") or DEFAULT_MESSAGES["invalid_input"]),
            )
        )
    return out


def from_refusal(result: dict[str, Any]) -> ApiError:
    """`{"success": false, "code", "error", ...}` returned by a seed function → ApiError."""
    code = result.get("code")
    if not isinstance(code, str) or code not in CODE_STATUS:
        err = api_error("internal")
        err.log_hint = f"refusal without a known code: {code!r}"[:120]
        return err
    errors = _field_errors(result.get("errors"))
    if code == "invalid_input" and errors is None:
        errors = []
    err = api_error(
        code,
        result.get("error") if isinstance(result.get("error"), str) else None,
        errors=errors,
        retry_after=_retry_after(result.get("retry_after")),
    )
    err.attempts_left = _attempts_left(result.get("attempts_left"))
    if err.attempts_left is not None:
        minutes = _attempts_left(result.get("lock_minutes"))
        err.lock_minutes = minutes if minutes else None
    return err


def _from_pt_state(exc: psycopg.Error, sqlstate: str) -> ApiError:
    diag = exc.diag
    detail: dict[str, Any] = {}
    if diag.message_detail:
        try:
            parsed = orjson.loads(diag.message_detail)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            detail = parsed
    digits = sqlstate[2:]
    status = int(digits) if digits.isdigit() and 400 <= int(digits) <= 599 else 500
    code = detail.get("code")
    if not isinstance(code, str) or not code:
        code = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
            status, "conflict" if status == 409 else "internal"
        )
    if code not in CODE_STATUS and status < 500:
        # an unknown code from SQL: keep the function's status and code, it is still a refusal
        err = ApiError(
            status=status,
            code=code,
            message=diag.message_primary or DEFAULT_MESSAGES["invalid_input"],
            errors=_field_errors(detail.get("errors")),
            retry_after=_retry_after(detail.get("retry_after")),
        )
        err.log_hint = f"unknown code {code!r} from {sqlstate}"[:120]
        return err
    errors = _field_errors(detail.get("errors"))
    if code == "invalid_input" and errors is None:
        errors = []
    err = api_error(
        code,
        diag.message_primary,
        errors=errors,
        retry_after=_retry_after(detail.get("retry_after")),
        status=status,
    )
    if err.status != status:
        err.log_hint = f"{sqlstate} carries code {code!r} mapped to {err.status}"
    return err


def _hint(exc: BaseException, sqlstate: str | None = None) -> str:
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return f"{name} {sqlstate}" if sqlstate else name


def from_exception(exc: BaseException) -> ApiError:
    """Any exception raised while serving a request → the ApiError the client gets."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, psycopg_pool.PoolTimeout):
        err = api_error("timeout", retry_after=BUSY_RETRY_SECONDS)
    elif isinstance(exc, psycopg_pool.PoolClosed):
        err = api_error("unavailable", retry_after=BUSY_RETRY_SECONDS)
    elif isinstance(exc, psycopg.Error):
        sqlstate = exc.sqlstate or ""
        if sqlstate.startswith("PT"):
            return _from_pt_state(exc, sqlstate)
        if sqlstate in ("23505", "23503"):
            err = api_error("conflict")
        elif sqlstate == "42501":
            err = api_error("forbidden")
        elif sqlstate == "P0001":
            err = api_error("invalid_input", errors=[])
        elif (
            sqlstate.startswith("08")
            or sqlstate in ("57P01", "57P02", "57P03")
            or sqlstate in _TRANSIENT_STATES
            # the connection lost before the server answered
            or (not sqlstate and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError))
        ):
            err = api_error("unavailable", retry_after=BUSY_RETRY_SECONDS)
        else:
            err = api_error("internal")
        err.log_hint = _hint(exc, sqlstate)
        return err
    else:
        err = api_error("internal")
    err.log_hint = _hint(exc)
    return err


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(err: ApiError) -> Response:
    return json_response(err.body(), status=err.status, headers=err.headers())
