"""errors.py: the one mapper from SQL refusals and exceptions to HTTP (no database)."""

from __future__ import annotations

import orjson
import psycopg
import psycopg_pool
import pytest

from guestlist.web.errors import (
    CODE_STATUS,
    DEFAULT_MESSAGES,
    ApiError,
    error_response,
    from_exception,
    from_refusal,
    json_key,
)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid_input", 400),
        ("invalid_credentials", 401),
        ("session_invalid", 401),
        ("event_not_found", 404),
        ("page_not_found", 404),
        ("promoter_not_found", 404),
        ("job_not_found", 404),
        ("qr_not_found", 404),
        ("phone_exists", 409),
        ("guest_list_closed", 409),
        ("guest_list_full", 409),
        ("account_locked", 429),
        ("rate_limited", 429),
        ("queue_full", 503),
    ],
)
def test_contract_codes_have_their_status(code: str, status: int) -> None:
    assert CODE_STATUS[code] == status
    err = from_refusal({"success": False, "code": code, "error": "Mensagem."})
    assert (err.status, err.code, err.message) == (status, code, "Mensagem.")


def test_refusal_field_errors_use_json_keys() -> None:
    err = from_refusal(
        {
            "success": False,
            "code": "invalid_input",
            "error": "Dados inválidos.",
            "errors": [
                {"field": "first_name", "code": "length", "message": "Nome."},
                {"field": "birth_date", "code": "invalid", "message": "Data."},
                {"field": "event_id", "code": "required", "message": "Evento."},
                {"field": "email", "code": "invalid", "message": "Email."},
            ],
        }
    )
    assert err.status == 400
    assert [e["field"] for e in err.errors or []] == ["firstName", "birthDate", "eventId", "email"]


def test_retry_after_becomes_a_header() -> None:
    err = from_refusal(
        {"success": False, "code": "account_locked", "error": "x", "retry_after": 41.2}
    )
    response = error_response(err)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "42"
    assert orjson.loads(response.body)["retry_after"] == 42


def test_attempts_left_is_kept_in_the_body() -> None:
    body = {"success": False, "code": "invalid_credentials", "error": "x", "attempts_left": 1}
    assert from_refusal(body).body()["attempts_left"] == 1
    assert "attempts_left" not in from_refusal({**body, "attempts_left": None}).body()
    assert "attempts_left" not in from_refusal({**body, "attempts_left": True}).body()
    assert "attempts_left" not in from_refusal({**body, "attempts_left": "1"}).body()


def test_lock_minutes_goes_with_attempts_left_only() -> None:
    body = {"success": False, "code": "invalid_credentials", "error": "x", "attempts_left": 1}
    assert from_refusal({**body, "lock_minutes": 15}).body()["lock_minutes"] == 15
    assert "lock_minutes" not in from_refusal(body).body()
    for odd in (0, -3, True, "15", 2.5, None):
        assert "lock_minutes" not in from_refusal({**body, "lock_minutes": odd}).body()
    alone = {**body, "lock_minutes": 15}
    del alone["attempts_left"]
    assert "lock_minutes" not in from_refusal(alone).body()


def test_unknown_refusal_code_is_a_generic_500() -> None:
    err = from_refusal({"success": False, "code": "weird", "error": "segredo interno"})
    assert err.status == 500
    assert err.body() == {
        "success": False,
        "code": "internal",
        "error": DEFAULT_MESSAGES["internal"],
    }


class FakeDiag:
    def __init__(self, primary: str | None, detail: str | None) -> None:
        self.message_primary = primary
        self.message_detail = detail


class FakePgError(psycopg.Error):
    """What psycopg raises for a server error, with the SQLSTATE and diagnostics we choose."""

    def __init__(self, sqlstate: str, primary: str, detail: str | None = None) -> None:
        self._state = sqlstate
        self._diag = FakeDiag(primary, detail)
        super().__init__(primary)

    @property
    def sqlstate(self) -> str:  # type: ignore[override]
        return self._state

    @property
    def diag(self) -> FakeDiag:  # type: ignore[override]
        return self._diag


def pt_error(status: int, code: str, message: str, **extra: object) -> psycopg.Error:
    return FakePgError(f"PT{status}", message, orjson.dumps({"code": code, **extra}).decode())


def test_pt_state_with_json_detail() -> None:
    err = from_exception(pt_error(429, "rate_limited", "Demasiados pedidos.", retry_after=17))
    assert (err.status, err.code, err.message, err.retry_after) == (
        429,
        "rate_limited",
        "Demasiados pedidos.",
        17,
    )


def test_pt_state_field_errors() -> None:
    exc = pt_error(
        400,
        "invalid_input",
        "Dados.",
        errors=[{"field": "phone", "code": "invalid", "message": "Número de telemóvel inválido."}],
    )
    err = from_exception(exc)
    assert err.status == 400
    assert err.errors == [
        {"field": "phone", "code": "invalid", "message": "Número de telemóvel inválido."}
    ]


def test_pt_state_unknown_code_keeps_status() -> None:
    err = from_exception(pt_error(409, "slug_taken", "Já existe."))
    assert (err.status, err.code) == (409, "slug_taken")


def test_pt_state_without_json_detail() -> None:
    err = from_exception(FakePgError("PT404", "Não encontrado.", "not json"))
    assert (err.status, err.code, err.message) == (404, "not_found", "Não encontrado.")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (psycopg.errors.UniqueViolation("dup Key (phone)=(+351935886310)"), 409, "conflict"),
        (psycopg.errors.ForeignKeyViolation("fk"), 409, "conflict"),
        (psycopg.errors.InsufficientPrivilege("permission denied"), 403, "forbidden"),
        (psycopg.errors.RaiseException("plain raise"), 400, "invalid_input"),
        (psycopg.errors.AdminShutdown("terminating"), 503, "unavailable"),
        (psycopg.errors.ConnectionFailure("gone"), 503, "unavailable"),
        (psycopg.OperationalError("connection lost"), 503, "unavailable"),
        (psycopg.errors.DeadlockDetected("deadlock detected"), 503, "unavailable"),
        (psycopg.errors.SerializationFailure("could not serialize"), 503, "unavailable"),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), 503, "unavailable"),
        (psycopg.errors.QueryCanceled("canceling statement"), 503, "unavailable"),
        (psycopg_pool.PoolTimeout("no connection"), 504, "timeout"),
        (psycopg_pool.PoolClosed("closed"), 503, "unavailable"),
        (psycopg.errors.UndefinedFunction("function api.x does not exist"), 500, "internal"),
        (psycopg.errors.DivisionByZero("division by zero"), 500, "internal"),
        (RuntimeError("boom SELECT secret"), 500, "internal"),
    ],
)
def test_exception_statuses(exc: BaseException, status: int, code: str) -> None:
    err = from_exception(exc)
    assert (err.status, err.code) == (status, code)
    # every busy answer says when to ask again; no other one does
    assert err.headers() == ({"Retry-After": "1"} if status in (503, 504) else {})
    body = orjson.dumps(err.body()).decode()
    assert "+351" not in body and "SELECT" not in body and "does not exist" not in body
    assert "permission" not in body and "terminating" not in body


def test_conflicts_of_the_moment_ask_to_retry_in_a_second() -> None:
    err = from_exception(psycopg.errors.DeadlockDetected("Process 7161 waits for ShareLock"))
    assert err.headers() == {"Retry-After": "1"}
    assert err.body() == {
        "success": False,
        "code": "unavailable",
        "error": DEFAULT_MESSAGES["unavailable"],
        "retry_after": 1,
    }


def test_internal_body_is_generic() -> None:
    err = from_exception(psycopg.errors.UndefinedTable("relation app.x does not exist"))
    assert err.body() == {
        "success": False,
        "code": "internal",
        "error": DEFAULT_MESSAGES["internal"],
    }
    assert err.log_hint is not None and "42P01" in err.log_hint
    assert "relation" not in err.log_hint


def test_api_error_passes_through() -> None:
    err = ApiError(413, "payload_too_large", "Grande")
    assert from_exception(err) is err


@pytest.mark.parametrize(
    ("sql_name", "key"),
    [
        ("first_name", "firstName"),
        ("p_last_name", "lastName"),
        ("birth_date", "birthDate"),
        ("team_id", "teamId"),
        ("phone", "phone"),
        ("some_new_field", "someNewField"),
    ],
)
def test_json_keys(sql_name: str, key: str) -> None:
    assert json_key(sql_name) == key
