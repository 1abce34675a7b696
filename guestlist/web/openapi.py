"""/openapi.json, built from the route table: every route, its body (from its field list), its
answer and the refusals it may give (statuses from errors.CODE_STATUS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from guestlist.web.errors import CODE_STATUS
from guestlist.web.inputs import MAX_BODY_BYTES, Field
from guestlist.web.readers import JsonBody
from guestlist.web.routes import ApiRoute

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

# What both answers that show a guest their pass carry.
_GUEST = {
    "success": {"const": True},
    "guest_id": {"type": "string", "format": "uuid"},
    "qr_code": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "first_name": {"type": "string"},
    "event": {"$ref": "#/components/schemas/Event"},
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
            "user": {
                "oneOf": [
                    {"type": "null"},
                    {"type": "object", "properties": {"firstName": {"type": "string"}}},
                ]
            },
            "source": {"enum": ["cache", "database"]},
        },
    },
    "GuestPass": {
        "type": "object",
        "description": "Also sets the HttpOnly cookie gl_session (the token is never in the body).",
        "properties": {
            **_GUEST,
            "message": {"type": "string"},
            "recovered": {"type": "boolean"},
        },
    },
    "ReturningGuest": {"type": "object", "properties": _GUEST},
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
        if params:
            op["parameters"] = params
        if isinstance(route.read, JsonBody):
            op["requestBody"] = {
                "required": True,
                "description": f"JSON, at most {MAX_BODY_BYTES} bytes.",
                "content": {"application/json": {"schema": _body_schema(route.read.fields)}},
            }
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
