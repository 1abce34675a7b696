"""The `guestlist` command: `serve`, `worker`, `migrate`, `demo`, `admin …` (admin_cli.py).

Each takes `--database-url`, else the environment's DATABASE_URL; every other setting comes from
the environment (docs/config.md). A bad setting is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence

from guestlist.config import ConfigError, load_settings

Command = Callable[[argparse.Namespace, str], int]


def _serve(args: argparse.Namespace, database_url: str) -> int:
    from guestlist.web.app import serve

    settings = dataclasses.replace(load_settings(), database_url=database_url)
    if args.host is not None:
        settings = dataclasses.replace(settings, host=args.host)
    if args.port is not None:
        settings = dataclasses.replace(settings, port=args.port)
    serve(settings)
    return 0


def _worker(args: argparse.Namespace, database_url: str) -> int:
    from guestlist.logs import configure_logging
    from guestlist.queue import standalone

    settings = dataclasses.replace(load_settings(), database_url=database_url)
    configure_logging(settings.log_level)
    standalone.run(settings)
    return 0


def _migrate(args: argparse.Namespace, database_url: str) -> int:
    from guestlist import migrate

    return migrate.run(database_url)


def _demo(args: argparse.Namespace, database_url: str) -> int:
    from guestlist import demo

    return demo.run(database_url)


def _port(raw: str) -> int:
    port = int(raw)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a TCP port (1-65535)")
    return port


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="guestlist",
        description="Promoter guest lists: the web app, its queue workers and the database.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subcommands: list[tuple[str, Command, str]] = [
        ("serve", _serve, "serve the web app (uvicorn; HOST, PORT and the rest from the env)"),
        ("worker", _worker, "run queue workers in a process of their own (until SIGTERM)"),
        ("migrate", _migrate, "apply migrations/ and re-apply sql/ (safe to run again)"),
        ("demo", _demo, "load the demo organization, event and promoter (idempotent)"),
    ]
    for name, run, text in subcommands:
        sub = commands.add_parser(name, help=text, description=text)
        _database_option(sub)
        if name == "serve":
            sub.add_argument("--host", help="address to listen on (default: env HOST, 0.0.0.0)")
            sub.add_argument(
                "--port", type=_port, help="TCP port to listen on (default: env PORT, 8000)"
            )
        sub.set_defaults(run=run)
    from guestlist import admin_cli

    admin_cli.add_parser(commands, _database_option)
    return top


def _database_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--database-url",
        metavar="URL",
        help="libpq URL or key=value string of the database (default: env DATABASE_URL)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    database_url = (args.database_url or os.environ.get("DATABASE_URL", "")).strip()
    if not database_url:
        print(f"guestlist {args.command}: give --database-url or set DATABASE_URL", file=sys.stderr)
        return 2
    try:
        if args.command.startswith("admin"):
            from guestlist import admin_cli

            return admin_cli.run(args, database_url)
        return int(args.run(args, database_url))
    except ConfigError as err:  # a bad environment setting: one line, no traceback
        print(f"guestlist {args.command}: {err}", file=sys.stderr)
        return 2
