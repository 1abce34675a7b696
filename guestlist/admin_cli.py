"""`guestlist admin …`: what an operator scripts about organizations and their events, each
subcommand ONE call of an admin.* SQL function (queries.sql, `admin_*`):

    create-organization  a new organization and its owner's invite link (printed once)
    invite               another member's invite link (owner, manager, or a promoter)
    create-event         an event (start, place, capacity, list closing, minimum age)
    create-promoter      a promoter and their link's slug, in a team (created when missing)
    export-csv           an event's guest list as CSV (guestlist/spreadsheet.py) to stdout or a file
    door-link create     a door link for a staff phone (/porta/<token>, printed once)
    door-link revoke     end a door link at once

Ids and links go to stdout (one `key value` a line, or JSON with --json), so a script can read
them; refusals go to stderr as `guestlist admin <cmd>: <message> (<code>)` with exit status 1;
a bad argument is argparse's exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, BinaryIO

import psycopg

from guestlist.queries import q
from guestlist.spreadsheet import BOM, HEADER, CsvLines, export_row


class Refused(Exception):
    """The database refused the call: its pt-PT message and stable code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _refusal(err: psycopg.Error) -> Refused:
    message = (err.diag.message_primary or str(err)).strip()
    code = err.sqlstate or "error"
    try:
        detail = json.loads(err.diag.message_detail or "")
        if isinstance(detail, dict) and isinstance(detail.get("code"), str):
            code = detail["code"]
    except ValueError:
        pass
    return Refused(message, code)


def _one(database_url: str, name: str, params: dict[str, Any]) -> Any:
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(q(name), params).fetchone()
    except psycopg.OperationalError as err:
        raise Refused(
            f"could not connect: {str(err).strip().splitlines()[0]}", "unavailable"
        ) from None
    except psycopg.Error as err:
        raise _refusal(err) from None
    return row[0] if row else None


def _timestamp(raw: str) -> str:
    """An ISO 8601 time with its offset (2026-12-31T23:00+00:00 or …Z)."""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{raw!r} has no time zone (add Z or +01:00)")
    # in UTC: ISO 8601 offsets run to ±23:59, PostgreSQL's only to ±15:59
    try:
        return when.astimezone(UTC).isoformat()
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{raw!r} is out of range") from None


def _print(args: argparse.Namespace, answer: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, default=str))
        return
    for key, value in answer.items():
        print(f"{key:15} {value}")


def _link(args: argparse.Namespace, answer: dict[str, Any]) -> dict[str, Any]:
    """The invite answer with its full link (PUBLIC_URL + path) instead of the bare token."""
    base = (args.public_url or "").rstrip("/")
    out = {k: v for k, v in answer.items() if k not in ("inviteToken", "invitePath")}
    out["inviteLink"] = base + str(answer["invitePath"])
    return out


def _create_organization(args: argparse.Namespace, database_url: str) -> int:
    answer = _one(
        database_url,
        "admin_create_organization",
        {"name": args.name, "slug": args.slug, "owner_email": args.owner_email},
    )
    _print(args, _link(args, answer))
    return 0


def _invite(args: argparse.Namespace, database_url: str) -> int:
    answer = _one(
        database_url,
        "admin_invite_member",
        {
            "organization_id": args.organization,
            "email": args.email,
            "role": args.role,
            "promoter_id": args.promoter,
        },
    )
    _print(args, _link(args, answer))
    return 0


def _create_event(args: argparse.Namespace, database_url: str) -> int:
    event_id = _one(
        database_url,
        "admin_create_event",
        {
            "organization_id": args.organization,
            "title": args.title,
            "slug": args.slug,
            "starts_at": args.starts_at,
            "location": args.location,
            "capacity": args.capacity,
            "closes_at": args.closes_at,
            "min_age": args.min_age,
        },
    )
    _print(args, {"eventId": event_id})
    return 0


def _create_promoter(args: argparse.Namespace, database_url: str) -> int:
    answer = _one(
        database_url,
        "admin_create_promoter",
        {
            "organization_id": args.organization,
            "slug": args.slug,
            "display_name": args.name,
            "team_name": args.team,
        },
    )
    _print(args, answer)
    return 0


def _door_link_create(args: argparse.Namespace, database_url: str) -> int:
    """The link's token is in doorLink only, printed this once (only its hash is stored)."""
    answer = _one(
        database_url, "admin_door_link_create", {"event_id": args.event, "label": args.label}
    )
    base = (args.public_url or "").rstrip("/")
    out = {k: v for k, v in answer.items() if k not in ("token", "path")}
    out["doorLink"] = base + str(answer["path"])
    _print(args, out)
    return 0


def _door_link_revoke(args: argparse.Namespace, database_url: str) -> int:
    _print(args, _one(database_url, "admin_door_link_revoke", {"door_id": args.door}))
    return 0


def write_csv(database_url: str, event_id: str, out: BinaryIO) -> int:
    """Stream the event's rows (single-row mode) into `out` as the CSV; the number of rows.
    A refusal before the first row writes nothing."""
    lines = CsvLines()
    lines.add(HEADER)
    count = 0
    started = False
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for row in conn.cursor().stream(q("admin_export_rows"), {"event_id": event_id}):
                if not started:
                    out.write(BOM.encode("utf-8"))
                    started = True
                chunk = lines.add(export_row(row))
                count += 1
                if chunk:
                    out.write(chunk.encode("utf-8"))
    except psycopg.OperationalError as err:
        raise Refused(
            f"could not connect: {str(err).strip().splitlines()[0]}", "unavailable"
        ) from None
    except psycopg.Error as err:
        raise _refusal(err) from None
    if not started:
        out.write(BOM.encode("utf-8"))
    out.write(lines.take().encode("utf-8"))
    out.flush()
    return count


def _export_csv(args: argparse.Namespace, database_url: str) -> int:
    if args.output in (None, "-"):
        count = write_csv(database_url, args.event, sys.stdout.buffer)
    else:
        partial = args.output + ".part"
        try:
            with open(partial, "wb") as out:
                count = write_csv(database_url, args.event, out)
            os.replace(partial, args.output)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    print(f"guestlist admin export-csv: {count} guests", file=sys.stderr)
    return 0


def _uuid(raw: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an id (uuid)") from None


def add_parser(commands: Any, database_option: Any) -> None:
    """`admin` and its subcommands under the top-level parser's `commands`."""
    text = (
        "operators' console scripts: organizations, invites, events, promoters, CSV export, "
        "door links"
    )
    admin = commands.add_parser("admin", help=text, description=__doc__.split("\n\n")[0])
    subs = admin.add_subparsers(dest="admin_command", required=True, metavar="SUBCOMMAND")

    def sub(
        name: str, run: Any, help_text: str, under: Any = subs, prefix: str = "admin"
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = under.add_parser(name, help=help_text, description=help_text)
        database_option(p)
        p.add_argument("--json", action="store_true", help="print the answer as one JSON object")
        p.set_defaults(run=run, command=f"{prefix} {name}")
        return p

    public = {
        "default": os.environ.get("PUBLIC_URL"),
        "help": "the site's address the invite link starts with (default: env PUBLIC_URL)",
    }
    p = sub(
        "create-organization",
        _create_organization,
        "a new organization and its owner's invite link",
    )
    p.add_argument("--name", required=True, help="the organization's name")
    p.add_argument("--slug", required=True, help="its short name (a-z, 0-9, hyphens)")
    p.add_argument("--owner-email", required=True, help="the first owner's email")
    p.add_argument("--public-url", **public)

    p = sub("invite", _invite, "an invite link for a member of an organization (72 h, single use)")
    p.add_argument("--organization", required=True, type=_uuid, help="organization id")
    p.add_argument("--email", required=True)
    p.add_argument("--role", required=True, choices=("owner", "manager", "promoter"))
    p.add_argument("--promoter", type=_uuid, help="the promoter id (role promoter only)")
    p.add_argument("--public-url", **public)

    p = sub("create-event", _create_event, "a new event of an organization")
    p.add_argument("--organization", required=True, type=_uuid, help="organization id")
    p.add_argument("--title", required=True)
    p.add_argument("--slug", required=True, help="the event's part of the links")
    p.add_argument("--starts-at", required=True, type=_timestamp, help="ISO 8601 with offset")
    p.add_argument("--location")
    p.add_argument("--capacity", type=int, help="most guests on the list (default: none)")
    p.add_argument("--closes-at", type=_timestamp, help="when the list closes (ISO 8601)")
    p.add_argument("--min-age", type=int, help="minimum age, 1-99 (default: none)")

    p = sub("create-promoter", _create_promoter, "a promoter in one of an organization's teams")
    p.add_argument("--organization", required=True, type=_uuid, help="organization id")
    p.add_argument("--slug", required=True, help="the promoter's part of the links (site-wide)")
    p.add_argument("--name", required=True, help="the name guests see")
    p.add_argument("--team", required=True, help="team name (created when missing)")

    p = sub("export-csv", _export_csv, "an event's guest list as CSV (UTF-8 with BOM, ';')")
    p.add_argument("--event", required=True, type=_uuid, help="event id")
    p.add_argument(
        "--output", "-o", help="file to write (default: stdout); written whole or not at all"
    )

    text = "door links: a staff phone's /porta/<token> (create), ended at once (revoke)"
    doors = subs.add_parser("door-link", help=text, description=text)
    door_subs = doors.add_subparsers(dest="door_command", required=True, metavar="SUBCOMMAND")
    p = sub(
        "create",
        _door_link_create,
        "a door link for an event's staff phone; its token is printed this once",
        door_subs,
        "admin door-link",
    )
    p.add_argument("--event", required=True, type=_uuid, help="event id")
    p.add_argument("--label", required=True, help="the door's name (1-60 characters)")
    p.add_argument(
        "--public-url",
        default=os.environ.get("PUBLIC_URL"),
        help="the site's address the door link starts with (default: env PUBLIC_URL)",
    )
    p = sub("revoke", _door_link_revoke, "end a door link at once", door_subs, "admin door-link")
    p.add_argument("door", type=_uuid, help="door id (doorId from create)")


def run(args: argparse.Namespace, database_url: str) -> int:
    """The chosen subcommand; a refusal is one line on stderr and exit status 1."""
    try:
        return int(args.run(args, database_url))
    except Refused as err:
        print(f"guestlist {args.command}: {err} ({err.code})", file=sys.stderr)
        return 1
