"""/openapi.json, built from the route table: every route, its body (from its field list), its
answer and the refusals it may give (statuses from errors.CODE_STATUS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from errors import CODE_STATUS
from handlers import SESSION_COOKIE, JsonBody
from inputs import MAX_BODY_BYTES, Field
from routes import ApiRoute

_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "phone": {
        "type": "string",
        "description": "Any usual form; default region PT.",
        "examples": ["935 886 310", "+351935886310"],
    },
    "text": {"type": "string"},
    "secret": {"type": "string", "format": "password"},
    "uuid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
}

_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "startsAt": {"type": "string", "format": "date-time"},
        "location": {"type": ["string", "null"]},
    },
}

# A queued job's status (GET /api/guest/status/{job_id}, and a held login-v2/register-v2 answer).
_JOB_STATUS: dict[str, Any] = {
    "id": {"type": "string", "format": "uuid"},
    "status": {"enum": ["waiting", "active", "delayed", "completed", "failed"]},
    "result": {
        "oneOf": [
            {"type": "null"},
            {"$ref": "#/components/schemas/GuestPass"},
            {"$ref": "#/components/schemas/Error"},
        ]
    },
    "error": {"type": ["string", "null"]},
    "createdAt": {"type": "string", "format": "date-time"},
    "processedAt": {"type": ["string", "null"], "format": "date-time"},
    "finishedAt": {"type": ["string", "null"], "format": "date-time"},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Health": {"type": "object", "properties": {"status": {"const": "ok"}}},
    "Ready": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    "Event": _EVENT,
    "Page": {
        "type": "object",
        "properties": {
            "event": {"$ref": "#/components/schemas/Event"},
            "organization": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "accountRetentionMonths": {"type": "integer", "minimum": 1, "maximum": 120},
                    "guestRetentionMonths": {"type": "integer", "minimum": 1, "maximum": 120},
                },
            },
            "promoter": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "displayName": {"type": "string"},
                },
            },
            "teamId": {"type": ["string", "null"], "format": "uuid"},
            "guestListOpen": {"type": "boolean"},
            "closesAt": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "PhoneCheck": {
        "type": "object",
        "properties": {
            "exists": {"type": "boolean"},
            "user": {"type": "null"},  # the seed's key; nothing about a phone's owner
            "source": {"enum": ["cache", "database"]},
        },
    },
    "GuestPass": {
        "type": "object",
        "description": "Also sets the HttpOnly cookie gl_session (the token is never in the body).",
        "properties": {
            "success": {"const": True},
            "guest_id": {"type": "string", "format": "uuid"},
            "qr_code": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "first_name": {"type": "string"},
            "message": {"type": "string"},
            "recovered": {"type": "boolean"},
            "event": {"$ref": "#/components/schemas/Event"},
        },
    },
    "ReturningGuest": {
        "type": "object",
        "properties": {
            "success": {"const": True},
            "guest_id": {"type": "string", "format": "uuid"},
            "qr_code": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "first_name": {"type": "string"},
            "event": {"$ref": "#/components/schemas/Event"},
        },
    },
    "GuestData": {
        "type": "object",
        "description": "Everything stored about the account (a download: Content-Disposition "
        "attachment). No hash and no token is ever part of it.",
        "required": ["exportedAt", "account", "guestEntries", "sessions", "jobs"],
        "properties": {
            "exportedAt": {"type": "string", "format": "date-time"},
            "account": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
                    "firstName": {"type": "string"},
                    "lastName": {"type": "string"},
                    "email": {"type": "string"},
                    "birthDate": {"type": ["string", "null"], "format": "date"},
                    "gender": {"enum": ["M", "F", "O", None]},
                    "city": {"type": ["string", "null"]},
                    "isActive": {"type": "boolean"},
                    "isVerified": {"type": "boolean"},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                },
            },
            "guestEntries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "phone": {"type": "string"},
                        "qrCode": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "status": {"enum": ["pending", "checked_in", "cancelled"]},
                        "checkedIn": {"type": "boolean"},
                        "checkedInAt": {"type": ["string", "null"], "format": "date-time"},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "event": {"$ref": "#/components/schemas/Event"},
                        "organization": {"type": "object"},
                        "promoter": {"type": ["object", "null"]},
                        "team": {"type": ["object", "null"]},
                    },
                },
            },
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "createdAt": {"type": "string", "format": "date-time"},
                        "expiresAt": {"type": "string", "format": "date-time"},
                    },
                },
            },
            "jobs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "kind": {"enum": ["login", "register"]},
                        "status": {"type": "string"},
                        "request": {"type": "object", "description": "without the password"},
                        "result": {"type": ["object", "null"]},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "finishedAt": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
        },
    },
    "Erased": {
        "type": "object",
        "description": "Also clears the session cookie.",
        "properties": {
            "success": {"const": True},
            "message": {"type": "string"},
            "erased": {
                "type": "object",
                "description": "rows erased per kind (accounts, guestRows, sessions, jobs, …)",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
        },
    },
    "QueuedJob": {
        "type": "object",
        "description": "A queued login or registration. With ?wait, also the keys of JobStatus "
        "(and, when the job completed with a guest pass, the gl_session cookie).",
        "required": [
            "success",
            "jobId",
            "jobToken",
            "message",
            "estimatedTime",
            "estimatedSeconds",
            "duplicate",
        ],
        "properties": {
            "success": {"const": True},
            "jobId": {"type": "string", "format": "uuid"},
            "jobToken": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{32}$",
                "description": "Send as X-Job-Token to read the job; only its submitter has it.",
            },
            "message": {"type": "string"},
            "estimatedTime": {"type": "string"},
            "estimatedSeconds": {"type": "integer", "minimum": 1},
            "duplicate": {"type": "boolean"},
            **_JOB_STATUS,
        },
    },
    "JobStatus": {
        "type": "object",
        "description": "The first read of a guest pass by a job token also sets the HttpOnly "
        "cookie gl_session.",
        "required": ["id", "status", "result", "error", "createdAt", "processedAt", "finishedAt"],
        "properties": {
            **_JOB_STATUS,
        },
    },
    "Error": {
        "type": "object",
        "required": ["success", "code", "error"],
        "properties": {
            "success": {"const": False},
            "code": {"type": "string", "enum": sorted(CODE_STATUS)},
            "error": {"type": "string", "description": "pt-PT message"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string", "description": "the JSON key"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
            "retry_after": {"type": "integer", "description": "seconds (also Retry-After)"},
        },
    },
}

_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")


def _body_schema(fields: Iterable[Field]) -> dict[str, Any]:
    fields = list(fields)
    return {
        "type": "object",
        "required": [f.key for f in fields if f.required],
        "properties": {f.key: _KIND_SCHEMA[f.kind] for f in fields},
    }


def _responses(route: ApiRoute) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response_schema == "Svg":
        ok["content"] = {"image/svg+xml": {"schema": {"type": "string"}}}
    elif route.errors_as == "html":
        ok["content"] = {"text/html": {"schema": {"type": "string"}}}
    elif route.response_schema:
        ref = {"$ref": f"#/components/schemas/{route.response_schema}"}
        ok["content"] = {"application/json": {"schema": ref}}
    out: dict[str, Any] = {"200": ok}
    by_status: dict[int, list[str]] = {}
    for code in route.refusals:
        by_status.setdefault(CODE_STATUS[code], []).append(code)
    if route.admin:
        by_status.setdefault(401, []).append("unauthorized")
    if route.errors_as == "ready":
        by_status.setdefault(503, []).append("not ready")
    by_status.setdefault(500, []).append("internal")
    error_ref = {"$ref": "#/components/schemas/Error"}
    for status, codes in sorted(by_status.items()):
        entry: dict[str, Any] = {"description": ", ".join(codes)}
        if route.errors_as == "json":
            entry["content"] = {"application/json": {"schema": error_ref}}
        if status in (429, 503):
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        out[str(status)] = entry
    return out


def build_openapi(routes: Iterable[ApiRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "tags": list(route.tags),
            "responses": _responses(route),
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(route.path)
        ]
        if route.path.startswith("/api/guest/me/"):
            params.append(
                {
                    "name": "gl_session",
                    "in": "cookie",
                    "required": True,
                    "schema": {"type": "string"},
                }
            )
        cookie = getattr(route.read, "session_cookie", None)
        if cookie is not None:  # the privacy routes: the session cookie, required or optional
            params.append(
                {
                    "name": SESSION_COOKIE,
                    "in": "cookie",
                    "required": cookie == "required",
                    "schema": {"type": "string"},
                }
            )
        params.extend(route.params)
        if params:
            op["parameters"] = params
        if isinstance(route.read, JsonBody):
            op["requestBody"] = {
                "required": True,
                "description": f"JSON, at most {MAX_BODY_BYTES} bytes.",
                "content": {"application/json": {"schema": _body_schema(route.read.fields)}},
            }
            amend = getattr(route.read, "amend_schema", None)
            if amend is not None:  # a reader that checks more than its fields says so
                amend(op["requestBody"]["content"]["application/json"]["schema"])
        if route.admin:
            op["security"] = [{"adminToken": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "guestlist",
            "version": "1",
            "description": "Promoter guest lists: every route is one PL/pgSQL function call.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }
