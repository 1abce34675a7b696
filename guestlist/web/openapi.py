"""/openapi.json, built from the route table: every route, its body (from its field list), its
answer and the refusals it may give (statuses from errors.CODE_STATUS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from guestlist.web.errors import CODE_STATUS
from guestlist.web.icons import ICONS
from guestlist.web.inputs import (
    EMAIL_MAX_CHARS,
    MAX_BODY_BYTES,
    MAX_PHONE_CHARS,
    PASSWORD_MAX_BYTES,
    PASSWORD_MIN_CHARS,
    PRINTABLE_BREAKERS,
    UUID_RE,
    Field,
)
from guestlist.web.readers import DOOR_TOKEN_RE, MAX_SYNC_BYTES, SESSION_COOKIE, JsonBody
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

# The server's rules as JSON Schema (inputs.py applies them, SQL again). Characters no text may
# hold: NUL (Postgres text cannot), and in names also PRINTABLE_BREAKERS. (Lone surrogates, which
# JSON escapes can carry, are refused too; they are no Unicode scalar values, so no pattern
# names them.) Astral code points are written \U0001xxxx, which Python and Rust regexes read.
_BAD = "\\u0000"
_BREAKERS = PRINTABLE_BREAKERS.pattern[1:-1]  # the class's inside
_TEXT = f"^[^{_BAD}]*$"
_NAME_CHAR = f"[^{_BAD}{_BREAKERS}]"
_PRINTABLE = f"^{_NAME_CHAR}*$"
_NOT_BLANK = f"^{_NAME_CHAR}*[^ {_BAD}{_BREAKERS}]{_NAME_CHAR}*$"
_EMAIL_CHAR = f"[^@ \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000{_BAD}{_BREAKERS}]"
_EMAIL = f"^ *{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+ *$"
_ANY = "[\\s\\S]*"
_STRONG = f"^(?={_ANY}[a-z])(?={_ANY}[A-Z])(?={_ANY}[0-9])[^{_BAD}]*$"
_PASSWORD_BYTES = (
    f"At most {PASSWORD_MAX_BYTES} bytes of UTF-8 (bcrypt reads no more; longer is refused with "
    f"code too_long): {PASSWORD_MAX_BYTES} ASCII characters, fewer with accents or emoji."
)


def _field_schema(f: Field) -> dict[str, Any]:
    """One body key's schema: type, lengths, pattern, enum and format as the server checks."""
    if f.kind == "phone":
        schema: dict[str, Any] = {
            **_KIND_SCHEMA["phone"],
            "format": "phone",
            "minLength": 1,
            "maxLength": MAX_PHONE_CHARS,
            "description": "A phone number libphonenumber finds valid, in any usual form "
            "(spaces, +, 00); default region PT.",
        }
        if f.mobile:
            schema["format"] = "mobile-phone"
            schema["examples"] = ["935 886 310", "+351935886310"]
            schema["description"] = (
                "A number the guest can receive a message on: libphonenumber finds it valid "
                "and of type MOBILE or FIXED_LINE_OR_MOBILE, in any usual form (spaces, +, 00; "
                "default region PT, written as in Portugal: 935 886 310). A landline (a Lisbon "
                "21x xxx xxx), toll-free, shared-cost, VoIP or pager number is refused with "
                "code not_mobile; an empty one with code required; any other with code invalid."
            )
    elif f.kind == "secret":
        schema = {
            **_KIND_SCHEMA["secret"],
            "minLength": 1,
            "maxLength": PASSWORD_MAX_BYTES,
            "pattern": _TEXT,
            "description": _PASSWORD_BYTES,
        }
    elif f.kind == "new_secret":
        schema = {
            **_KIND_SCHEMA["secret"],
            "minLength": PASSWORD_MIN_CHARS,
            "maxLength": PASSWORD_MAX_BYTES,
            "pattern": _STRONG,
            "description": f"At least {PASSWORD_MIN_CHARS} characters with a lower-case letter, "
            f"an upper-case letter and a digit (a-z, A-Z, 0-9). {_PASSWORD_BYTES}",
        }
    elif f.kind == "email":
        schema = {
            "type": "string",
            "minLength": 5,
            "maxLength": EMAIL_MAX_CHARS,
            "pattern": _EMAIL,
            "description": "name@domain.tld without spaces or control characters; surrounding "
            "spaces are trimmed.",
        }
    elif f.kind == "uuid":
        schema = {
            "type": "string",
            "pattern": f"^{UUID_RE.pattern}$",
            "description": "A uuid: 32 hex digits, hyphens optional between the groups.",
        }
    elif f.kind == "date":
        schema = {**_KIND_SCHEMA["date"]}
        if f.past:
            schema["description"] = "YYYY-MM-DD, after 1900-01-01 and before today."
    elif f.choices:
        schema = {"type": "string", "enum": list(f.choices)}
    else:
        schema = {"type": "string", "pattern": _PRINTABLE if f.printable else _TEXT}
        if f.max_chars is not None:
            schema["maxLength"] = f.max_chars
            if f.required:
                schema["minLength"] = 1
                schema["pattern"] = _NOT_BLANK if f.printable else schema["pattern"]
        if f.printable:
            schema["description"] = (
                "No control or invisible formatting characters (Unicode Cc, Cf, Zl, Zp: "
                "bidirectional overrides, zero-width spaces…; code invalid_characters). "
                "Surrounding spaces are trimmed before the length is counted."
            )
    if f.required:
        return schema
    # optional: null, absent or "" all mean "not given"
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}, {"type": "null"}]}


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

# Only in the answers to the guest's own session (the pass and the ticket they save); never in
# a login, registration or queued job's answer, nor in any public one.
_LAST_NAME = {
    "type": "string",
    "description": "The guest's last name: to their own session only (gl_session cookie).",
}

# What both answers that show a guest their pass carry.
_GUEST = {
    "success": {"const": True},
    "guest_id": {"type": "string", "format": "uuid"},
    "qr_code": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "first_name": {"type": "string"},
    "event": {"$ref": "#/components/schemas/Event"},
}

# The console's shapes (sql/62_console.sql's app._console_event_json and friends).
_ID: dict[str, Any] = {"type": "string", "format": "uuid"}
_ID_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "uuid"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_ROLE: dict[str, Any] = {"enum": ["owner", "manager", "promoter"]}
_TEAM: dict[str, Any] = {"type": "object", "properties": {"id": _ID, "name": {"type": "string"}}}
_CONSOLE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "organizationId", "title", "startsAt", "isActive", "listOpen"],
    "properties": {
        "id": _ID,
        "organizationId": _ID,
        "title": {"type": "string"},
        "slug": {"type": "string"},
        "startsAt": _TIME,
        "location": {"type": ["string", "null"]},
        "guestCapacity": {"type": ["integer", "null"]},
        "guestCount": {"type": "integer"},
        "guestListClosesAt": {"type": ["string", "null"], "format": "date-time"},
        "minAge": {"type": ["integer", "null"]},
        "isActive": {"type": "boolean"},
        "listOpen": {"type": "boolean"},
        "updatedAt": _TIME,
    },
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
        "description": "Also sets the HttpOnly session cookie (the token is never in the body): "
        "__Host-gl_session with Secure over HTTPS, gl_session on a plain-http deployment.",
        "properties": {
            **_GUEST,
            "message": {"type": "string"},
            "recovered": {"type": "boolean"},
        },
    },
    "LoggedOut": {
        "type": "object",
        "required": ["success"],
        "description": "Also clears the session cookie.",
        "properties": {"success": {"const": True}},
    },
    "ReturningGuest": {"type": "object", "properties": {**_GUEST, "last_name": _LAST_NAME}},
    "PasswordResetRequested": {
        "type": "object",
        "required": ["success", "message"],
        "description": "The same for every phone, registered or not.",
        "properties": {"success": {"const": True}, "message": {"type": "string"}},
    },
    "PasswordResetDone": {
        "type": "object",
        "required": ["success", "message"],
        "description": "Every session of the account has ended; log in with the new password.",
        "properties": {"success": {"const": True}, "message": {"type": "string"}},
    },
    "SessionPass": {
        "type": "object",
        "required": ["guest", "session"],
        "description": "Never cached (Cache-Control: no-store).",
        "properties": {
            "guest": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            **{k: v for k, v in _GUEST.items() if k != "success"},
                            "last_name": _LAST_NAME,
                        },
                    },
                    {"type": "null"},
                ]
            },
            "session": {
                "type": "boolean",
                "description": "Whether the device holds a valid session (with or without a "
                "place on this event).",
            },
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
                "description": "Queued requests naming the phone: no request body (one may be "
                "another person's attempt on this number).",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "kind": {"enum": ["login", "register"]},
                        "status": {"type": "string"},
                        "eventId": {"type": "string", "format": "uuid"},
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
    "Manifest": {
        "type": "object",
        "description": "A web app manifest (W3C Web Application Manifest).",
        "required": ["id", "name", "short_name", "start_url", "scope", "display", "icons"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "short_name": {"type": "string"},
            "lang": {"type": "string"},
            "start_url": {"type": "string"},
            "scope": {"const": "/promotor/"},
            "display": {"const": "standalone"},
            "description": {"type": "string"},
            "orientation": {"const": "portrait"},
            "background_color": {"type": "string"},
            "theme_color": {"type": "string"},
            "icons": {
                "type": "array",
                "description": "The favicon (SVG), and PNGs of 192 and 512 pixels (GET /icons/…).",
                "items": {
                    "type": "object",
                    "required": ["src", "sizes", "type"],
                    "properties": {
                        "src": {"type": "string"},
                        "sizes": {"type": "string"},
                        "type": {"type": "string"},
                        "purpose": {"enum": ["any", "maskable"]},
                    },
                },
            },
        },
    },
    # --- staff and console (the SQL functions' own JSON: sql/61_staff.sql, 62_console.sql) ---
    "StaffSession": {
        "type": "object",
        "required": ["success", "expiresAt"],
        "description": "Also sets the HttpOnly, SameSite=Strict staff cookie (never in the body): "
        "__Host-gl_staff with Secure over HTTPS, gl_staff on plain http.",
        "properties": {"success": {"const": True}, "expiresAt": _TIME},
    },
    "StaffLoggedOut": {
        "type": "object",
        "required": ["success"],
        "description": "Also clears the staff cookie.",
        "properties": {"success": {"const": True}, "ended": {"type": "integer", "minimum": 0}},
    },
    "StaffMe": {
        "type": "object",
        "required": ["staff", "memberships"],
        "properties": {
            "staff": {
                "type": "object",
                "properties": {
                    "id": _ID,
                    "email": {"type": "string"},
                    "displayName": {"type": "string"},
                },
            },
            "memberships": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "organizationId": _ID,
                        "name": {"type": "string"},
                        "slug": {"type": "string"},
                        "role": _ROLE,
                        "promoterId": _ID_OR_NULL,
                    },
                },
            },
        },
    },
    "ConsoleEvent": _CONSOLE_EVENT,
    "ConsoleEvents": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": _CONSOLE_EVENT}},
    },
    "ConsoleGuests": {
        "type": "object",
        "required": ["total", "guests"],
        "description": "An owner or manager sees every field; a promoter only id, name and "
        "checkedIn of their own guests.",
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "guests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "checkedIn"],
                    "properties": {
                        "id": _ID,
                        "name": {"type": "string"},
                        "phone": {"type": "string"},
                        "promoterId": _ID,
                        "promoterName": {"type": "string"},
                        "teamName": {"type": "string"},
                        "status": {"enum": ["pending", "checked_in"]},
                        "checkedIn": {"type": "boolean"},
                        "checkedInAt": _TIME,
                        "createdAt": _TIME,
                    },
                },
            },
        },
    },
    "ConsoleFigures": {
        "type": "object",
        "required": ["onList", "inside", "promoters", "timeline"],
        "properties": {
            "onList": {"type": "integer"},
            "inside": {"type": "integer"},
            "capacity": {"type": ["integer", "null"]},
            "promoters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "promoterId": _ID,
                        "displayName": {"type": "string"},
                        "onList": {"type": "integer"},
                        "inside": {"type": "integer"},
                        "shareOfArrivals": {"type": "number", "minimum": 0, "maximum": 1},
                        "quota": {"type": ["integer", "null"]},
                    },
                },
            },
            "timeline": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "15-minute buckets aligned on the event's start.",
                    "properties": {
                        "at": _TIME,
                        "registrations": {"type": "integer"},
                        "arrivals": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Quota": {
        "type": "object",
        "properties": {"eventId": _ID, "promoterId": _ID, "quota": {"type": ["integer", "null"]}},
    },
    "ConsolePromoters": {
        "type": "object",
        "required": ["promoters", "teams"],
        "properties": {
            "promoters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": _ID,
                        "slug": {"type": "string"},
                        "displayName": {"type": "string"},
                        "isActive": {"type": "boolean"},
                        "teams": {"type": ["array", "null"], "items": _TEAM},
                        "memberEmail": {"type": ["string", "null"]},
                    },
                },
            },
            "teams": {"type": "array", "items": _TEAM},
        },
    },
    "ConsolePromoter": {
        "type": "object",
        "properties": {
            "id": _ID,
            "slug": {"type": "string"},
            "displayName": {"type": "string"},
            "teamId": _ID,
        },
    },
    "PromoterTeam": {"type": "object", "properties": {"promoterId": _ID, "teamId": _ID}},
    "ConsoleMembers": {
        "type": "object",
        "required": ["members", "invites"],
        "properties": {
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "staffId": _ID,
                        "email": {"type": "string"},
                        "displayName": {"type": "string"},
                        "role": _ROLE,
                        "promoterId": _ID_OR_NULL,
                    },
                },
            },
            "invites": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": _ID,
                        "email": {"type": "string"},
                        "role": _ROLE,
                        "promoterId": _ID_OR_NULL,
                        "expiresAt": _TIME,
                    },
                },
            },
        },
    },
    "Invite": {
        "type": "object",
        "required": ["inviteToken", "invitePath", "expiresAt"],
        "description": "The token leaves once (only its sha256 is stored); invitePath carries it "
        "after #, which browsers never send to a server.",
        "properties": {
            "inviteToken": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "invitePath": {"type": "string"},
            "expiresAt": _TIME,
        },
    },
    "PromoterDashboard": {
        "type": "object",
        "required": ["promoters"],
        "properties": {
            "promoters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "promoterId": _ID,
                        "slug": {"type": "string"},
                        "displayName": {"type": "string"},
                        "events": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "event": _CONSOLE_EVENT,
                                    "linkPath": {"type": "string"},
                                    "onList": {"type": "integer"},
                                    "inside": {"type": "integer"},
                                    "quota": {"type": ["integer", "null"]},
                                    "teamRanking": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "displayName": {"type": "string"},
                                                "onList": {"type": "integer"},
                                                "inside": {"type": "integer"},
                                                "me": {"type": "boolean"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            }
        },
    },
    "Done": {"type": "object", "required": ["success"], "properties": {"success": {"const": True}}},
    "Removed": {
        "type": "object",
        "required": ["removed"],
        "properties": {"removed": {"const": True}},
    },
    "ConsoleDoorLink": {
        "type": "object",
        "required": ["doorId", "token", "path", "url", "label", "expiresAt", "qrSvg"],
        "description": "Answered this once: only the token's sha256 is stored, so no later "
        "answer can show the link again (revoke it and make another).",
        "properties": {
            "doorId": _ID,
            "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            "path": {"type": "string", "description": "/porta/<token>"},
            "url": {"type": "string", "description": "The link a staff phone opens."},
            "label": {"type": "string", "maxLength": 60},
            "expiresAt": {
                "type": "string",
                "format": "date-time",
                "description": "12 hours after the event starts (as it starts now).",
            },
            "qrSvg": {"type": "string", "description": "The URL's QR code, an inline SVG."},
        },
    },
    "ConsoleDoorLinks": {
        "type": "object",
        "required": ["doors", "conflicts", "conflictList"],
        "properties": {
            "doors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["doorId", "label", "createdAt", "expiresAt", "live", "scans"],
                    "description": "Never the token or its hash.",
                    "properties": {
                        "doorId": _ID,
                        "label": {"type": "string"},
                        "createdAt": _TIME,
                        "expiresAt": _TIME,
                        "revokedAt": {"type": ["string", "null"], "format": "date-time"},
                        "live": {
                            "type": "boolean",
                            "description": "Not revoked, event active, not 12 hours past.",
                        },
                        "lastScanAt": {"type": ["string", "null"], "format": "date-time"},
                        "scans": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "conflicts": {
                "type": "integer",
                "minimum": 0,
                "description": "How many codes were admitted at two doors.",
            },
            "conflictList": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "properties": {
                        "guest": {
                            "type": "object",
                            "properties": {"id": _ID, "name": {"type": "string"}},
                        },
                        "admitted": {"$ref": "#/components/schemas/ConflictScan"},
                        "later": {"$ref": "#/components/schemas/ConflictScan"},
                        "recordedAt": _TIME,
                    },
                },
            },
        },
    },
    "ConflictScan": {
        "type": "object",
        "properties": {"scanId": _ID, "door": {"type": "string"}, "scannedAt": _TIME},
    },
    "DoorLinkRevoked": {
        "type": "object",
        "required": ["doorId", "revokedAt"],
        "properties": {"doorId": _ID, "revokedAt": _TIME},
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
            "attempts_left": {
                "type": "integer",
                "minimum": 0,
                "description": "invalid_credentials only: the wrong passwords this client may "
                "still try on this phone before account_locked (1: the next failure locks it; "
                "0: this one did). The client's own count, alike for known and unknown phones; "
                "in a queued job's result too.",
            },
            "lock_minutes": {
                "type": "integer",
                "minimum": 1,
                "description": "With attempts_left: how many minutes this client stays locked "
                "out of the phone once its attempts are used up (the setting "
                "login_failure_window_seconds, rounded up to whole minutes).",
            },
        },
    },
}

# --- the door (/api/door/…) -------------------------------------------------------------------
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_DOOR_GUEST_PROPS: dict[str, Any] = {
    "id": {"type": "string", "format": "uuid"},
    "firstName": {"type": "string"},
    "lastName": {"type": "string"},
    "promoter": {"type": ["string", "null"]},
    "checkedInAt": _NULLABLE_TIME,
    "ageOk": {
        "type": ["boolean", "null"],
        "description": "By the event's minimum age at its start: true old enough (or no minimum "
        "age), false under it, null no birth date known. The birth date is never sent.",
    },
}
_DOOR_GUEST = {
    "type": "object",
    "description": "The door may see a guest's full name (public routes never do). An erased "
    "guest's past answers keep only the id.",
    "required": ["id"],
    "properties": _DOOR_GUEST_PROPS,
}
_DOOR_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "startsAt": {"type": "string", "format": "date-time"},
        "minAge": {"type": ["integer", "null"], "description": "The event's minimum age."},
    },
}
_DOOR = {
    "type": "object",
    "properties": {"id": {"type": "string", "format": "uuid"}, "label": {"type": "string"}},
}
DOOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "DoorAnswer": {
        "type": "object",
        "required": ["result", "scanId", "conflict"],
        "description": "Never cached. The same scanId again: exactly this answer.",
        "properties": {
            "result": {
                "enum": [
                    "admitted",
                    "already_in",
                    "wrong_event",
                    "not_found",
                    "too_old",
                    "in_future",
                ],
                "description": "too_old and in_future: offline scans only (door sync).",
            },
            "scanId": {"type": "string", "format": "uuid"},
            "scannedAt": {"type": "string", "format": "date-time"},
            "guest": {"anyOf": [_DOOR_GUEST, {"type": "null"}]},
            "door": {
                "anyOf": [
                    {"type": "object", "properties": {"label": {"type": ["string", "null"]}}},
                    {"type": "null"},
                ],
                "description": "admitted: this door; already_in: the door that admitted.",
            },
            "event": {
                "anyOf": [
                    {"type": "object", "properties": {"title": {"type": ["string", "null"]}}},
                    {"type": "null"},
                ],
                "description": "wrong_event: the code's event's title (null when that event "
                "belongs to another organization).",
            },
            "conflict": {
                "type": "boolean",
                "description": "The code was admitted at two doors (offline scans).",
            },
        },
    },
    "DoorSync": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "maxItems": 500,
                "items": {"$ref": "#/components/schemas/DoorAnswer"},
            }
        },
    },
    "DoorSearch": {
        "type": "object",
        "required": ["guests"],
        "properties": {
            "guests": {
                "type": "array",
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "properties": {**_DOOR_GUEST_PROPS, "checkedIn": {"type": "boolean"}},
                },
            }
        },
    },
    "DoorUndo": {
        "type": "object",
        "required": ["undone", "guest"],
        "properties": {
            "undone": {"type": "boolean", "description": "false: the guest was not inside."},
            "guest": _DOOR_GUEST,
        },
    },
    "DoorSummary": {
        "type": "object",
        "required": ["onList", "inside", "byPromoter", "conflicts", "lastScans"],
        "properties": {
            "event": _DOOR_EVENT,
            "door": _DOOR,
            "onList": {"type": "integer", "minimum": 0},
            "inside": {"type": "integer", "minimum": 0},
            "byPromoter": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "promoter": {"type": ["string", "null"]},
                        "onList": {"type": "integer", "minimum": 0},
                        "inside": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "conflicts": {
                "type": "integer",
                "minimum": 0,
                "description": "How many codes were admitted at two doors.",
            },
            "conflictList": {"type": "array", "maxItems": 20, "items": {"type": "object"}},
            "lastScans": {"type": "array", "maxItems": 20, "items": {"type": "object"}},
        },
    },
    "DoorList": {
        "type": "object",
        "required": ["guests"],
        "description": "The event's live guests, to judge scans offline. qrHash: sha256 (hex) of "
        "the QR code as the guest's pass shows it; the codes themselves are never sent.",
        "properties": {
            "event": _DOOR_EVENT,
            "door": _DOOR,
            "fetchedAt": {"type": "string", "format": "date-time"},
            "guests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        **_DOOR_GUEST_PROPS,
                        "qrHash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "checkedIn": {"type": "boolean"},
                    },
                },
            },
        },
    },
}
SCHEMAS.update(DOOR_SCHEMAS)

_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
_SLUG = {
    "type": "string",
    "maxLength": 80,
    "pattern": "^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$",
    "description": "Lowercase letters, digits and hyphens as stored; matched case-insensitively.",
}
# What each path parameter must look like (anything else: 400 for an event id, 404 for the rest).
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "token": {"type": "string", "pattern": DOOR_TOKEN_RE.pattern},
    "event_id": {"type": "string", "format": "uuid"},
    "organization_id": {"type": "string", "format": "uuid"},
    "promoter_id": {"type": "string", "format": "uuid"},
    "staff_id": {"type": "string", "format": "uuid"},
    "invite_id": {"type": "string", "format": "uuid"},
    "door_id": {"type": "string", "format": "uuid"},
    "job_id": {"type": "string", "format": "uuid"},
    "qr_code": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "icon": {"enum": sorted(ICONS)},
    "promoter": _SLUG,
    "event": _SLUG,
}


def _body_schema(fields: Iterable[Field]) -> dict[str, Any]:
    fields = list(fields)
    return {
        "type": "object",
        "required": [f.key for f in fields if f.required],
        "properties": {f.key: _field_schema(f) for f in fields},
        "additionalProperties": True,  # other keys are ignored
    }


def _responses(route: ApiRoute) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response_schema == "Svg":
        ok["content"] = {"image/svg+xml": {"schema": {"type": "string"}}}
    elif route.response_schema == "Png":
        ok["content"] = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    elif route.response_schema == "JavaScript":
        ok["content"] = {"text/javascript": {"schema": {"type": "string"}}}
    elif route.response_schema == "Csv":  # the console's export (web/export.py)
        ok["content"] = {"text/csv": {"schema": {"type": "string"}}}
    elif route.response_schema == "Manifest":
        ref = {"$ref": "#/components/schemas/Manifest"}
        ok["content"] = {"application/manifest+json": {"schema": ref}}
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
        if status in (429, 503, 504):
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
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": _PATH_SCHEMAS.get(name, {"type": "string"}),
            }
            for name in _PATH_PARAM.findall(route.path)
        ]
        # the session cookie: required by /api/guest/me/…, required or optional for a reader
        # that says so (the privacy routes)
        cookie = (
            "required"
            if route.path.startswith("/api/guest/me/")
            else getattr(route.read, "session_cookie", None)
        )
        if cookie is not None:
            params.append(
                {
                    "name": SESSION_COOKIE,
                    "in": "cookie",
                    "required": cookie == "required",
                    "description": "The session token; named __Host-gl_session over HTTPS.",
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                }
            )
            if getattr(route.read, "any_cookie", False):  # a reader for which a bad one is none
                params[-1]["schema"] = {"type": "string"}
                params[-1]["description"] += (
                    " Any value: one without the token's shape (64 hex digits) counts as no "
                    "session."
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
        elif hasattr(route.read, "body_schema"):  # a body beyond a field list (the door's sync)
            op["requestBody"] = {
                "required": True,
                "description": f"JSON, at most {MAX_SYNC_BYTES} bytes.",
                "content": {"application/json": {"schema": route.read.body_schema()}},
            }
        if route.admin:
            op["security"] = [{"adminToken": []}]
        if "door" in route.tags:  # Authorization: Bearer <door token> (readers.door_token)
            op["security"] = [{"doorToken": []}]
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
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer"},
                "doorToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A door link's token (43+ characters, [A-Za-z0-9_-]); a "
                    "missing, malformed, unknown, revoked or expired one: 401 door_invalid.",
                },
            },
        },
    }
