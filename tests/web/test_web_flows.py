"""The web client's other flows in a real browser against a real server, without audio: a human message for
every error and close code of docs/protocol.md; scheduling a space, a reminder on it, its start reaching the
reminded account's page; an invitation to speak accepted from the page's notice; errors shown as sentences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import ServerProcess
from tests.web.browser import launch, open_page, sign_up

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented(section: str) -> list[str]:
    """The codes in the first column of the table under `## {section}` in docs/protocol.md."""
    text = PROTOCOL.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [c for c in re.findall(r"^\| `?([a-z_0-9]+)`? \|", text, re.MULTILINE) if c != "code"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = launch(pw)
        yield browser
        browser.close()


def test_every_error_and_close_code_has_a_human_message(browser: Browser, web_server: ServerProcess) -> None:
    errors, closes = documented("Error codes"), documented("Close codes")
    assert "bad_message" in errors and "4002" in closes  # the tables were found
    page, _ = open_page(browser, f"http://127.0.0.1:{web_server.http_port}/")
    messages = page.evaluate(
        "async () => { const m = await import('/js/errors.js'); return [m.ERROR_MESSAGES, m.CLOSE_MESSAGES]; }"
    )
    assert sorted(set(errors) - set(messages[0])) == []
    assert sorted(set(closes) - set(messages[1])) == []
    for text in [*messages[0].values(), *messages[1].values()]:
        assert text[0].isupper() and text.endswith((".", "!", "…")), text  # sentences, not codes
    page.context.close()


def test_a_scheduled_space_reminds_and_an_invitation_brings_a_listener_on_the_mic(
    browser: Browser, web_server: ServerProcess
) -> None:
    base = f"http://127.0.0.1:{web_server.http_port}"
    host, host_errors = open_page(browser, base + "/")
    fan, fan_errors = open_page(browser, base + "/")
    sign_up(host, "mira")
    sign_up(fan, "otto")

    # A guest cannot host: the page says so and offers to sign up. (The fan is an account; a third page is not.)
    guest, _ = open_page(browser, base + "/")
    guest.get_by_role("button", name="Sign up to host").click()
    expect(guest.locator(".toast")).to_contain_text("You need an account for that")
    expect(guest.locator("#auth-dialog")).to_be_visible()
    guest.fill("#auth-handle", "mira")
    guest.fill("#auth-display", "Mira")
    guest.fill("#auth-password", "a different password")
    guest.click("#auth-submit")
    expect(guest.locator("#auth-error")).to_have_text("That handle is taken. Choose another one.")
    guest.context.close()

    # The host schedules a space; the fan sees it upcoming and sets a reminder.
    host.get_by_role("button", name="Start a space").click()
    host.fill("#create-name", "Friday jam")
    host.fill("#create-topics", "music")
    host.get_by_label("Schedule for later").check()
    host.click("#create-submit")
    expect(host.locator("#upcoming-list")).to_contain_text("Friday jam")
    fan.get_by_role("button", name="Search").click()  # refreshes the lists
    expect(fan.locator("#upcoming-list")).to_contain_text("Friday jam")
    fan.get_by_role("button", name="Remind me").click()
    expect(fan.get_by_role("button", name="Reminder set")).to_be_visible()

    # The host starts it; the fan's page tells it so, and listening is one click.
    host.get_by_role("button", name="Start now").click()
    expect(host.locator("#space-title")).to_have_text("Friday jam")
    notice = fan.locator(".toast", has_text="is live now")
    expect(notice).to_contain_text("Friday jam")
    notice.get_by_role("button", name="Listen").click()
    expect(fan.locator("#space-title")).to_have_text("Friday jam")
    expect(fan.locator(".chips")).to_contain_text("otto")

    # The host invites the fan by handle; the fan accepts from the notice and is on the mic.
    host.fill("#invite-handle", "otto")
    host.get_by_role("button", name="Invite", exact=True).click()
    invited = fan.locator(".toast", has_text="invited you to speak")
    expect(invited).to_contain_text("@mira")
    invited.get_by_role("button", name="Join and speak").click()
    expect(fan.get_by_role("button", name="🎙 Unmute")).to_be_visible()
    expect(host.locator(".tile .tile-name")).to_contain_text(["mira", "otto"])
    expect(host.locator(".tile", has_text="otto")).to_contain_text("Speaker")

    # Reactions reach everyone; a post shows in both timelines. The reaction menu stays open while the room
    # re-renders (the host's post).
    fan.get_by_text("😊 React").click()
    host.get_by_label("Post to the space").fill("Welcome, otto")
    host.get_by_role("button", name="Post", exact=True).click()
    expect(fan.locator(".posts")).to_contain_text("Welcome, otto")
    expect(fan.get_by_role("button", name="React 🔥")).to_be_visible()
    fan.get_by_role("button", name="React 🔥").click()
    expect(host.locator(".reaction-float .bubble")).to_have_text("🔥")
    fan.get_by_label("Post to the space").fill("Thanks for having me!")
    fan.get_by_role("button", name="Post", exact=True).click()
    expect(host.locator(".posts")).to_contain_text("Thanks for having me!")

    # The host moves the fan back to the audience; the menu stays open while the room re-renders (a post).
    host.locator(".tile", has_text="otto").locator("summary").click()
    fan.get_by_label("Post to the space").fill("One more thing")
    fan.get_by_role("button", name="Post", exact=True).click()
    expect(host.locator(".posts")).to_contain_text("One more thing")
    expect(host.get_by_role("button", name="Move to listeners")).to_be_visible()
    host.get_by_role("button", name="Move to listeners").click()
    expect(fan.get_by_role("button", name="✋ Request to speak")).to_be_visible()
    expect(fan.locator(".toast", has_text="back in the audience")).to_be_visible()

    # The host brings the fan on again from the audience's menu; the fan leaves the mic by themselves.
    host.locator(".chip", has_text="otto").locator("summary").click()
    host.get_by_role("button", name="Invite to speak").click()
    expect(fan.get_by_role("button", name="Leave the mic")).to_be_visible()
    fan.get_by_role("button", name="Leave the mic").click()
    expect(fan.get_by_role("button", name="✋ Request to speak")).to_be_visible()
    expect(host.locator(".tile", has_text="otto")).to_have_count(0)

    # The fan logs out, and stays in the space as a guest listener.
    fan.get_by_role("button", name="Log out").click()
    expect(fan.locator(".account")).to_contain_text("Guest")
    expect(fan.locator("#space-title")).to_have_text("Friday jam")
    expect(fan.get_by_role("button", name="Sign up to ask to speak")).to_be_visible()
    expect(host.locator(".chips")).to_contain_text("guest")

    assert not host_errors, host_errors
    assert not fan_errors, fan_errors
    host.context.close()
    fan.context.close()
