"""`stoa admin ...` (the admin API for people), `stoa backup DEST` and `stoa restore SRC`.

`stoa admin` reads the token from STOA_ADMIN_TOKEN, else from the settings file (`--config`, `admin.token`);
it never takes the token as a flag (flags show in `ps`). It prints the API's JSON answer and exits 0, or the
error's code and message on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from gateway import config as settings_tree
from gateway.backup import BackupError, backup, restore
from gateway.datalock import FolderBusy

TIMEOUT_S = 30.0

# action: (method, path template, arguments)
ACTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "spaces": ("GET", "/admin/spaces", ()),
    "create-space": ("POST", "/admin/spaces", ("host", "title")),
    "end": ("POST", "/admin/spaces/{space_id}/end", ("space_id",)),
    "participants": ("GET", "/admin/spaces/{space_id}/participants", ("space_id",)),
    "remove": ("POST", "/admin/spaces/{space_id}/participants/{user}/remove", ("space_id", "user")),
    "mute": ("POST", "/admin/spaces/{space_id}/participants/{user}/mute", ("space_id", "user")),
    "suspend": ("POST", "/admin/accounts/{handle}/suspend", ("handle",)),
    "restore": ("POST", "/admin/accounts/{handle}/restore", ("handle",)),
    "webhooks": ("GET", "/admin/webhooks", ()),
    "add-webhook": ("POST", "/admin/webhooks", ("url",)),
    "remove-webhook": ("DELETE", "/admin/webhooks/{webhook_id}", ("webhook_id",)),
}


def add_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    a = commands.add_parser("admin", help="the admin API of a running server (token: STOA_ADMIN_TOKEN)")
    a.add_argument("--url", dest="server_url", metavar="URL",
                   help="the server's HTTP address (default: http://127.0.0.1:<web.http_port>)")  # fmt: skip
    a.add_argument("--config", type=Path, metavar="FILE", help="a settings file to read admin.token and the port")
    actions = a.add_subparsers(dest="action", required=True)
    for name, (_, _, arguments) in ACTIONS.items():
        parser = actions.add_parser(name)
        for argument in arguments:
            parser.add_argument(argument)
    b = commands.add_parser("backup", help="copy the database to DEST, consistent while the server runs")
    b.add_argument("dest", type=Path)
    b.add_argument("--data", type=Path, default=Path("data"), help="the data folder (default ./data)")
    r = commands.add_parser("restore", help="replace the data folder's database with a backup (server stopped)")
    r.add_argument("src", type=Path)
    r.add_argument("--data", type=Path, default=Path("data"), help="the data folder (default ./data)")


def run_admin(args: argparse.Namespace) -> int:
    import urllib.error  # here: `stoa serve` (which imports this module for its parsers) never needs them
    import urllib.parse
    import urllib.request

    try:
        settings = settings_tree.load(args.config, os.environ, {})
    except settings_tree.SettingsError as e:
        print(f"stoa admin: {e.lines[0]}", file=sys.stderr)
        return 2
    token = settings.admin.token
    if not token:
        print("stoa admin: no admin token: set STOA_ADMIN_TOKEN (or admin.token in --config)", file=sys.stderr)
        return 2
    url = args.server_url or f"http://127.0.0.1:{settings.web.http_port or 8080}"
    method, template, arguments = ACTIONS[args.action]
    values = {name: getattr(args, name) for name in arguments}
    path = template.format(**{k: urllib.parse.quote(v, safe="") for k, v in values.items()})
    body = json.dumps(values).encode() if method == "POST" and "{" not in template else None
    request = urllib.request.Request(url.rstrip("/") + path, data=body, method=method)
    request.add_header("authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (an operator's URL)
            print(json.dumps(json.loads(response.read()), indent=2))
            return 0
    except urllib.error.HTTPError as e:
        try:
            error = json.loads(e.read())
            print(f"stoa admin: {error['error']}: {error['message']}", file=sys.stderr)
        except (ValueError, KeyError, TypeError):
            print(f"stoa admin: HTTP {e.code}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"stoa admin: cannot reach {url}: {e}", file=sys.stderr)
        return 1


def run_backup(args: argparse.Namespace) -> int:
    try:
        version = backup(args.data, args.dest)
    except (BackupError, sqlite3.Error) as e:
        print(f"stoa backup: {e}", file=sys.stderr)
        return 1
    print(f"stoa backup: {args.dest} written (schema {version})")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    try:
        version = restore(args.src, args.data)
    except FolderBusy as busy:
        print(f"stoa restore: --data {args.data}: a server (pid {busy.pid}) is using it: stop it first",
              file=sys.stderr)  # fmt: skip
        return 1
    except (BackupError, sqlite3.Error) as e:
        print(f"stoa restore: {e}", file=sys.stderr)
        return 1
    print(f"stoa restore: {args.data / 'stoa.db'} restored from {args.src} (schema {version})")
    return 0
