"""The console bodies' OpenAPI schemas state what the server enforces across fields, so a body
the schema allows is never refused for a rule only the server knows."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema_rs  # schemathesis's own validator (the test extra)

from guestlist.web.app import ALL_ROUTES
from guestlist.web.openapi import build_openapi

INVITES = "/api/console/organizations/{organization_id}/invites"


def body_schema(path: str) -> dict[str, Any]:
    doc = build_openapi(ALL_ROUTES)
    schema: dict[str, Any] = doc["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_invite_schema_ties_the_promoter_to_the_promoter_role() -> None:
    validator = jsonschema_rs.validator_for(body_schema(INVITES))
    promoter = str(uuid.uuid4())
    email = "ana@example.pt"
    assert validator.is_valid({"email": email, "role": "manager"})
    assert validator.is_valid({"email": email, "role": "owner", "promoterId": None})
    assert validator.is_valid({"email": email, "role": "promoter", "promoterId": promoter})
    # what api.console_invite_member refuses (400 promoter_id) the schema refuses too
    assert not validator.is_valid({"email": email, "role": "owner", "promoterId": promoter})
    assert not validator.is_valid({"email": email, "role": "manager", "promoterId": promoter})
    assert not validator.is_valid({"email": email, "role": "promoter"})
    assert not validator.is_valid({"email": email, "role": "promoter", "promoterId": None})


def query_schemas(path: str) -> dict[str, dict[str, Any]]:
    doc = build_openapi(ALL_ROUTES)
    return {
        p["name"]: p["schema"]
        for p in doc["paths"][path]["get"]["parameters"]
        if p["in"] == "query"
    }


def test_console_query_strings_say_an_empty_text_is_none() -> None:
    """A query string has no null: StaffQuery reads an empty text item (`?organizationId=`) as
    absent, and an empty number or flag as wrong, and the schema says just that."""
    guests = query_schemas("/api/console/events/{event_id}/guests")
    events = query_schemas("/api/console/events")
    for name, schema in {**guests, "organizationId": events["organizationId"]}.items():
        validator = jsonschema_rs.validator_for(schema)
        assert not validator.is_valid(None), name
        assert validator.is_valid("") is (name not in ("limit", "offset", "checkedIn")), name
    assert jsonschema_rs.validator_for(guests["promoterId"]).is_valid(str(uuid.uuid4()))
    assert not jsonschema_rs.validator_for(guests["sort"]).is_valid("random")


def test_console_ids_are_documented_as_read() -> None:
    """The console reads an id with or without its dashes (parse_uuid); its schemas say so, and
    no `format: uuid` (dashes required) contradicts their pattern."""
    guests = query_schemas("/api/console/events/{event_id}/guests")
    invite = body_schema(INVITES)["properties"]
    create = body_schema("/api/console/events")["properties"]
    for name, schema in (
        ("promoterId (query)", guests["promoterId"]),
        ("promoterId (invite)", invite["promoterId"]),
        ("organizationId (event)", create["organizationId"]),
    ):
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        assert validator.is_valid(str(uuid.uuid4())), name
        assert validator.is_valid(uuid.uuid4().hex), name
        assert not validator.is_valid("not-an-id"), name
