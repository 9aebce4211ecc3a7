"""The public API of `store`: exactly these names, each defined in a private module; small documented
modules; only trio, msgspec, argon2 and the standard library imported; stable error codes."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import store

EXPECTED = {
    "StoredPost",
    "StoredSpace",
    "create_space",
    "add_post",
    "add_removal",
    "set_speaker_policy",
    "add_invitation",
    "remove_invitation",
    "reserve_seq",
    "end_space",
    "set_unmoderated",
    "mark_unmoderated",
    "get_post",
    "posts_before",
    "get_space",
    "live_spaces",
    "DEFAULT_TOKEN_LIFETIME_S",
    "INBOX_PAGE_BYTES",
    "Account",
    "AccountId",
    "AccountPage",
    "BadArgument",
    "BadCredentials",
    "Blocked",
    "Clock",
    "Database",
    "HandleTaken",
    "Invite",
    "LiveListing",
    "Message",
    "MessageKind",
    "NoSuchAccount",
    "NoSuchScheduledSpace",
    "ScheduledSpace",
    "ScheduledSpaceOver",
    "SchemaTooNew",
    "Session",
    "StoreError",
    "TokenExpired",
    "TokenInvalid",
    "TooManyScheduled",
    "add_reminder",
    "block",
    "blocked_accounts",
    "cancel_scheduled",
    "count_pending",
    "follow",
    "followers",
    "following",
    "follows",
    "get_account",
    "get_account_by_id",
    "taken_handles",
    "get_scheduled",
    "inbox",
    "is_blocked",
    "live_listing",
    "log_in",
    "log_out",
    "log_out_everywhere",
    "mark_host_reminded",
    "mark_read",
    "mark_started",
    "next_host_reminder",
    "open_database",
    "purge_expired_sessions",
    "register",
    "reminder_holders",
    "remove_reminder",
    "schedule_space",
    "send_dm",
    "set_display_name",
    "set_protected",
    "unblock",
    "unfollow",
    "unread_count",
    "upcoming",
    "verify_token",
    "AccountSuspended",
    "NewWebhookEvent",
    "WebhookEvent",
    "add_webhook_events",
    "append_webhook_events",
    "restore_account",
    "set_webhook_cursor",
    "space_webhook_events",
    "suspend_account",
    "suspended_accounts",
    "webhook_backlog",
    "webhook_cursor",
    "webhook_events_after",
    "set_webhook_receivers",
    "WebhookReceiver",
    "add_webhook_receiver",
    "remove_webhook_receiver",
    "webhook_receivers",
    "TooManyWebhookReceivers",
    "SCHEMA_VERSION",
    "FinishedPart",
    "NewRecording",
    "NewRecordingPart",
    "RecordingChanges",
    "RecordingEvent",
    "RecordingPart",
    "StoredRecording",
    "add_recording_event",
    "add_recording_part",
    "create_recording",
    "delete_recording",
    "deleted_recordings",
    "expired_recordings",
    "finish_recording",
    "finish_recording_part",
    "get_recording",
    "list_recordings",
    "live_recordings",
    "part_count",
    "purge_recording",
    "record_changes",
    "recording_events",
    "recording_parts",
    "set_recording_visibility",
    "unfinished_recording_parts",
}
CONSTANTS = {"DEFAULT_TOKEN_LIFETIME_S", "INBOX_PAGE_BYTES", "SCHEMA_VERSION"}
STORE_DIR = Path(store.__file__).parent
ALLOWED_THIRD_PARTY = {"trio", "msgspec", "argon2"}


def test_all_lists_exactly_the_public_api() -> None:
    assert set(store.__all__) == EXPECTED
    assert len(store.__all__) == len(EXPECTED)


def test_nothing_public_is_left_out_of_all() -> None:
    assert {name for name in vars(store) if not name.startswith("_")} == EXPECTED


def test_every_public_name_is_defined_in_a_private_module() -> None:
    for name in EXPECTED - CONSTANTS:
        obj = getattr(store, name)
        assert obj.__name__ == name
        assert obj.__module__.startswith("store._"), name


def test_implementation_modules_are_private_documented_and_small() -> None:
    for path in STORE_DIR.glob("*.py"):
        source = path.read_text()
        assert path.name == "__init__.py" or path.name.startswith("_"), path.name
        assert ast.get_docstring(ast.parse(source)), f"{path.name} needs a module docstring"
        assert len(source.splitlines()) <= 400, f"{path.name} is over 400 lines: split it by concept"


def test_the_store_imports_nothing_of_stoa_but_itself() -> None:
    for path in STORE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "store", (
                    f"{path.name} imports {name}"
                )


def test_error_codes_are_distinct_and_stable() -> None:
    errors = [getattr(store, name) for name in EXPECTED - CONSTANTS]
    codes = {e.__name__: e.code for e in errors if isinstance(e, type) and issubclass(e, store.StoreError)}
    assert codes == {
        "StoreError": "store_error",
        "BadArgument": "bad_argument",
        "HandleTaken": "handle_taken",
        "BadCredentials": "bad_credentials",
        "TokenInvalid": "token_invalid",
        "TokenExpired": "token_expired",
        "AccountSuspended": "account_suspended",
        "NoSuchAccount": "no_such_account",
        "Blocked": "blocked",
        "SchemaTooNew": "schema_too_new",
        "NoSuchScheduledSpace": "no_such_scheduled_space",
        "ScheduledSpaceOver": "scheduled_space_over",
        "TooManyScheduled": "limit_reached",
        "TooManyWebhookReceivers": "limit_reached",  # one meaning: a cap that waiting does not lift
    }
    shared = [code for code in codes.values() if code != "limit_reached"]
    assert len(shared) == len(set(shared)), "two store errors share a code"


def test_values_are_frozen() -> None:
    for name in ("Account", "Session", "AccountPage", "Invite", "Message", "ScheduledSpace", "LiveListing"):
        assert getattr(store, name).__struct_config__.frozen, name
