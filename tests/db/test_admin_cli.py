"""`guestlist admin …` against a real database (run as `python -m guestlist`, this checkout's
code): each subcommand's answer on stdout, refusals as one line on stderr with their code and
exit status 1, and the CSV export written whole (BOM, neutralized formulas) or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from guestlist.queries import load_queries
from tests.support.database import ROOT, TESTS

WEB_SQL = load_queries(TESTS / "web_queries.sql")
NO_ID = "00000000-0000-4000-8000-000000000000"


def admin(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PUBLIC_URL")}
    return subprocess.run(
        [sys.executable, "-m", "guestlist", "admin", *args, "--database-url", db_url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def answer(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_organization_promoters_event(db_url: str, conn: psycopg.Connection) -> None:
    made = answer(
        admin(
            db_url, "create-organization", "--json", "--name", "Noites de Faro",
            "--slug", "faro", "--owner-email", "Dona@Faro.pt",
            "--public-url", "https://listas.example/",
        )
    )  # fmt: skip
    assert made["inviteLink"].startswith("https://listas.example/organizador/convite#")
    assert "inviteToken" not in made
    org = made["organizationId"]
    row = conn.execute(
        "SELECT count(*) FROM app.staff_invites WHERE organization_id = %s AND role = 'owner'",
        (org,),
    ).fetchone()
    assert row == (1,)

    first = answer(admin(db_url, "create-promoter", "--json", "--organization", org,
                         "--slug", "ana-faro", "--name", "Ana", "--team", "Sul"))  # fmt: skip
    second = answer(admin(db_url, "create-promoter", "--json", "--organization", org,
                          "--slug", "rui-faro", "--name", "Rui", "--team", "Sul"))  # fmt: skip
    assert first["teamId"] == second["teamId"] and first["promoterId"] != second["promoterId"]
    taken = admin(db_url, "create-promoter", "--organization", org, "--slug", "ana-faro",
                  "--name", "Outra", "--team", "Sul")  # fmt: skip
    assert taken.returncode == 1 and taken.stdout == ""
    assert taken.stderr.startswith("guestlist admin create-promoter: ")
    assert taken.stderr.rstrip().endswith("(slug_taken)")

    event = answer(admin(db_url, "create-event", "--json", "--organization", org,
                         "--title", "Noite do Sul", "--slug", "noite-sul",
                         "--starts-at", "2030-07-01T23:00+01:00", "--capacity", "500",
                         "--min-age", "18", "--location", "Faro"))  # fmt: skip
    row = conn.execute(
        "SELECT min_age, guest_capacity, location FROM app.events WHERE id = %s",
        (event["eventId"],),
    ).fetchone()
    assert row == (18, 500, "Faro")
    too_old = admin(db_url, "create-event", "--organization", org, "--title", "X",
                    "--slug", "x-sul", "--starts-at", "2030-07-01T23:00Z",
                    "--min-age", "120")  # fmt: skip
    assert too_old.returncode == 1 and too_old.stderr.rstrip().endswith("(invalid_input)")
    unknown = admin(db_url, "create-event", "--organization", NO_ID, "--title", "X",
                    "--slug", "y-sul", "--starts-at", "2030-07-01T23:00Z")  # fmt: skip
    assert unknown.returncode == 1 and "(organization_not_found)" in unknown.stderr

    invite = answer(admin(db_url, "invite", "--json", "--organization", org, "--email",
                          "ana@faro.pt", "--role", "promoter", "--promoter",
                          first["promoterId"]))  # fmt: skip
    assert invite["inviteLink"].startswith("/organizador/convite#")


def test_event_start_with_any_iso_offset(db_url: str, conn: psycopg.Connection) -> None:
    """ISO 8601 offsets run to ±23:59, PostgreSQL's to ±15:59: +17:00 is an instant like any
    other, not a database error."""
    made = answer(admin(db_url, "create-organization", "--json", "--name", "Noites de Leste",
                        "--slug", "leste", "--owner-email", "dona@leste.pt"))  # fmt: skip
    org = made["organizationId"]
    event = answer(admin(db_url, "create-event", "--json", "--organization", org,
                         "--title", "Noite", "--slug", "noite-leste",
                         "--starts-at", "2030-07-02T16:00+17:00",
                         "--closes-at", "2030-07-01T20:00-18:30"))  # fmt: skip
    row = conn.execute(
        "SELECT starts_at = '2030-07-01T23:00Z', guest_list_closes_at = '2030-07-02T14:30Z' "
        "FROM app.events WHERE id = %s",
        (event["eventId"],),
    ).fetchone()
    assert row == (True, True)


def test_bad_arguments_exit_2(db_url: str) -> None:
    res = admin(db_url, "create-event", "--organization", "x", "--title", "t", "--slug", "s",
                "--starts-at", "2030-01-01T00:00Z")  # fmt: skip
    assert res.returncode == 2 and "is not an id" in res.stderr
    res = admin(db_url, "create-event", "--organization", NO_ID,
                "--title", "t", "--slug", "s", "--starts-at", "2030-01-01T00:00")  # fmt: skip
    assert res.returncode == 2 and "no time zone" in res.stderr


def test_export_csv(
    db_url: str, conn: psycopg.Connection, demo: dict[str, str], tmp_path: Path
) -> None:
    for name, n in (("Conceição Brás", 3), ('=HYPERLINK("http://x.example";"y")', 1)):
        conn.execute(
            WEB_SQL["web_test_seed_guests"],
            {"event_id": demo["eventId"], "promoter_id": demo["promoterId"],
             "team_id": demo["teamId"], "name": name, "n": n, "base": 10_000 * n,
             "inside_every": 2},
        )  # fmt: skip
    out = tmp_path / "lista.csv"
    res = admin(db_url, "export-csv", "--event", demo["eventId"], "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr.strip() == "guestlist admin export-csv: 4 guests"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Nome;Telefone;Promotor;Equipa;Estado;Entrada;Registo"
    assert lines[-1] == "" and len(lines) == 1 + 4 + 1
    assert any(line.startswith("Conceição Brás 2;'+3519") for line in lines)
    assert any(line.startswith('"\'=HYPERLINK(""http://x.example"";""y"")"') for line in lines)

    # to stdout: the same bytes
    res = subprocess.run(
        [sys.executable, "-m", "guestlist", "admin", "export-csv", "--event", demo["eventId"]],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url}, capture_output=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0 and res.stdout == raw

    # an unknown event: nothing written, the file not created
    missing = tmp_path / "nada.csv"
    res2 = admin(db_url, "export-csv", "--event", NO_ID,
                 "-o", str(missing))  # fmt: skip
    assert res2.returncode == 1 and res2.stderr.rstrip().endswith("(event_not_found)")
    assert not missing.exists() and not (tmp_path / "nada.csv.part").exists()


def test_door_link_create_and_revoke(
    db_url: str, conn: psycopg.Connection, demo: dict[str, str]
) -> None:
    made = answer(admin(db_url, "door-link", "create", "--json", "--event", demo["eventId"],
                        "--label", "Porta Norte",
                        "--public-url", "https://listas.example/"))  # fmt: skip
    assert set(made) == {"doorId", "label", "expiresAt", "doorLink"}, "the token only in the link"
    prefix = "https://listas.example/porta/"
    assert made["doorLink"].startswith(prefix) and made["label"] == "Porta Norte"
    token = made["doorLink"][len(prefix) :]
    row = conn.execute(
        "SELECT event_id::text, revoked_at IS NULL FROM app.door_links "
        "WHERE id = %s AND token_hash = sha256(convert_to(%s, 'UTF8'))",
        (made["doorId"], token),
    ).fetchone()
    assert row == (demo["eventId"], True), "stored for the event under the printed token's hash"
    door = conn.execute("SELECT api.door_summary(%s)", (token,)).fetchone()
    assert door is not None and door[0]["door"]["label"] == "Porta Norte", "the door works"

    plain = admin(db_url, "door-link", "create", "--event", demo["eventId"], "--label", "Sul")
    assert plain.returncode == 0, plain.stderr
    assert any(
        line.startswith("doorLink") and "/porta/" in line for line in plain.stdout.splitlines()
    )

    revoked = answer(admin(db_url, "door-link", "revoke", made["doorId"], "--json"))
    assert revoked["doorId"] == made["doorId"] and revoked["revokedAt"]
    assert conn.execute(
        "SELECT revoked_at IS NOT NULL FROM app.door_links WHERE id = %s", (made["doorId"],)
    ).fetchone() == (True,)

    blank = admin(db_url, "door-link", "create", "--event", demo["eventId"], "--label", "  ")
    assert blank.returncode == 1 and blank.stdout == ""
    assert blank.stderr.startswith("guestlist admin door-link create: ")
    assert blank.stderr.rstrip().endswith("(invalid_input)")
    unknown = admin(db_url, "door-link", "create", "--event", NO_ID, "--label", "X")
    assert unknown.returncode == 1 and unknown.stderr.rstrip().endswith("(event_not_found)")
    gone = admin(db_url, "door-link", "revoke", NO_ID)
    assert gone.returncode == 1 and gone.stderr.rstrip().endswith("(door_not_found)")
    bad = admin(db_url, "door-link", "revoke", "porta")
    assert bad.returncode == 2 and "is not an id" in bad.stderr


@pytest.mark.parametrize("sub", ["create-organization", "invite", "create-event",
                                 "create-promoter", "export-csv", "door-link",
                                 "door-link create", "door-link revoke"])  # fmt: skip
def test_each_admin_subcommand_has_help(sub: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "guestlist", "admin", *sub.split(), "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0 and res.stdout.startswith(f"usage: guestlist admin {sub}")
