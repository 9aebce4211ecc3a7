"""The account operations' authorisation table in `docs/authorization.md` names every account request."""

from __future__ import annotations

from pathlib import Path

from gateway.protocol import ACCOUNT_TYPES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "authorization.md").read_text()
HEADER = "| operation | account | guest | anonymous |"


def test_the_account_table_names_every_account_request() -> None:
    assert HEADER in DOC
    table = DOC.split(HEADER, 1)[1].split("\n\n", 1)[0]
    missing = {kind for kind in ACCOUNT_TYPES if f"| `{kind}`" not in table and f", `{kind}`" not in table}
    assert not missing, f"docs/authorization.md's account table lacks {missing}"
