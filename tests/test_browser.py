"""The approver's page in a real browser (Debian's Chromium driven by Playwright), plus its form guards."""

from __future__ import annotations

import json
import re

import pytest
import requests

from harness import peek
from harness.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from harness.controllers import TEST_PASSWORD, add_user, users_command
from harness.orders import ORDER
from harness.policies import LARGE_ORDERS_RULES
from stack.paths import PROJECT_ROOT

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

SCREENSHOT = PROJECT_ROOT / "docs" / "approver-page.png"


def card(page, name: str):
    return page.locator(f'#pending-list > [data-id="{name}"]')


def outcome_row(page, name: str):
    return page.locator(f'#recent tr[data-id="{name}"]')


def form_session(controller) -> tuple[requests.Session, str]:
    """Open the page like a browser would; return the session (its cookie) and the form token it got."""
    session = requests.Session()
    html = session.get(controller.url + "/", timeout=30).text
    return session, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def stored_tokens(controller) -> list[str]:
    return peek.task_tokens(controller.app.config["DATABASE"])


def test_an_approver_sees_an_order_and_approves_it_with_a_click(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    name = stack.start()
    controller.wait_for_pending(name)

    page.goto(controller.url + "/")
    expect(card(page, name)).to_contain_text("Order ORD-1001")
    expect(card(page, name)).to_contain_text("Ada Lovelace")
    expect(card(page, name)).to_contain_text("28.00 EUR")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_label("Your name").fill("Grace")
    page.get_by_role("button", name="Save name").click()
    card(page, name).get_by_role("button", name="Approve order ORD-1001").click()

    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 approved.")
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"
    expect(card(page, name)).to_have_count(0)
    expect(outcome_row(page, name)).to_contain_text("approved")
    expect(outcome_row(page, name)).to_contain_text("by Grace")
    expect(outcome_row(page, name)).to_contain_text("SUCCEEDED")


def test_a_new_order_appears_without_a_reload_and_is_rejected_with_the_typed_reason(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    page.goto(controller.url + "/")
    expect(page.locator("#pending")).to_contain_text("Nothing is waiting")
    page.evaluate("window.notReloaded = true")
    name = stack.start()

    expect(card(page, name)).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("1 new request is waiting")
    assert page.evaluate("window.notReloaded") is True
    page.get_by_label("Reason for rejecting order ORD-1001").fill("Over the credit limit.")
    page.keyboard.press("Tab")  # from the reason, the keyboard reaches the Reject button next
    page.keyboard.press("Enter")

    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 rejected.")
    execution = stack.wait_until_finished(name)
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "Rejected",
        "Over the credit limit.",
    )
    expect(outcome_row(page, name)).to_contain_text("Over the credit limit.")
    expect(outcome_row(page, name)).to_contain_text("FAILED")


def test_a_reason_being_typed_survives_the_pages_refresh(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    first = stack.start()
    controller.wait_for_pending(first)
    page.goto(controller.url + "/")
    reason = card(page, first).get_by_label("Reason for rejecting order ORD-1001")
    reason.fill("Half typed")

    second = stack.start({**ORDER, "order_id": "ORD-1002"})

    expect(card(page, second)).to_be_visible()
    expect(reason).to_have_value("Half typed")
    expect(reason).to_be_focused()


def test_the_page_fits_a_phone_screen_without_sideways_scrolling(stack, controller, browser):
    name = stack.start()
    controller.wait_for_pending(name)
    phone = browser.new_page(viewport={"width": 360, "height": 740})

    phone.goto(controller.url + "/")

    expect(card(phone, name).get_by_role("button", name="Reject order ORD-1001")).to_be_in_viewport(timeout=WAIT_MS)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.close()


def test_a_request_decided_elsewhere_shows_already_decided_when_clicked(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)  # the page must stay stale
    name = stack.start()
    controller.wait_for_pending(name)
    page.route("**/events*", lambda route: route.abort())  # nor may the live stream take the card away first
    page.goto(controller.url + "/")
    assert controller.post(f"/approve/{name}").status_code == 200

    card(page, name).get_by_role("button", name="Approve order ORD-1001").click()

    expect(page.locator("#messages .error")).to_contain_text(f"Already decided: Request {name} was already approved")


def decide_through_the_form(controller, path: str, **fields: str) -> str:
    """Post a page form the way the browser does, follow the redirect, return the page shown."""
    session, token = form_session(controller)
    return session.post(controller.url + path, data={"csrf_token": token, **fields}, timeout=30).text


def test_an_unknown_request_and_aws_unreachable_are_explained_on_the_page(stack, controller, controller_factory):
    offline = controller_factory(stack, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS=1)
    name = stack.start()
    controller.wait_for_pending(name)

    unknown = decide_through_the_form(controller, "/ui/approve/no-such-id")
    unreachable = decide_through_the_form(offline, f"/ui/approve/{name}")

    assert "Not found: No approval request with id no-such-id" in unknown
    assert "AWS unreachable, nothing was decided; try again" in unreachable
    assert "AWS could not be reached" in unreachable  # the page's warning about the stored-only list
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def test_an_expired_request_is_explained_on_the_page(expired_request):
    controller, name = expired_request.controller, expired_request.name

    shown = decide_through_the_form(controller, f"/ui/reject/{name}", reason="too late")

    assert f"Expired: Request {name} can no longer be decided" in shown


@pytest.mark.parametrize("sent", [{}, {"csrf_token": "forged"}, "another session's token"])
def test_a_form_post_without_this_sessions_token_is_refused_and_decides_nothing(stack, controller, sent):
    name = stack.start()
    controller.wait_for_pending(name)
    session, token = form_session(controller)
    if sent == "another session's token":
        sent = {"csrf_token": form_session(controller)[1]}

    refused = session.post(controller.url + f"/ui/approve/{name}", data=sent, allow_redirects=False, timeout=30)

    assert refused.status_code == 403
    assert "Nothing was decided" in refused.text
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    assert stack.describe(name)["status"] == "RUNNING"
    accepted = session.post(
        controller.url + f"/ui/approve/{name}", data={"csrf_token": token}, allow_redirects=False, timeout=30
    )
    assert accepted.status_code == 303


def test_the_page_never_contains_a_task_token(stack, controller, page):
    pending, decided = stack.start(), stack.start()
    controller.wait_for_pending(pending)
    controller.wait_for_pending(decided)
    controller.post(f"/reject/{decided}", {"reason": "no"})

    page.goto(controller.url + "/")
    expect(outcome_row(page, decided)).to_be_visible()
    shown = [page.content(), controller.get("/").text, controller.get("/ui/requests").text]

    tokens = stored_tokens(controller)
    assert len(tokens) == 2
    for token in tokens:
        assert all(token not in html for html in shown)


def test_the_event_stream_brings_a_new_order_and_a_decision_made_elsewhere_at_once(stack, controller_factory, page):
    # a refresh period far longer than the test: only the /events stream can update the page
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)
    page.goto(controller.url + "/")
    expect(page.locator("#pending")).to_contain_text("Nothing is waiting")
    page.evaluate("window.notReloaded = true")
    name = stack.start()

    expect(card(page, name)).to_be_visible(timeout=10_000)
    assert controller.post(f"/approve/{name}", {"approver": "Ada"}).status_code == 200
    expect(card(page, name)).to_have_count(0, timeout=5_000)
    expect(outcome_row(page, name)).to_contain_text("by Ada")
    assert page.evaluate("window.notReloaded") is True


def test_an_approver_approves_several_selected_orders_at_once(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    names = [stack.start() for _ in range(3)]
    for name in names:
        controller.wait_for_pending(name)
    page.goto(controller.url + "/")

    for name in names[:2]:
        card(page, name).get_by_label("Select").check()
    page.get_by_role("button", name="Approve selected").click()

    expect(page.locator("#messages")).to_contain_text("2 requests approved.")
    for name in names[:2]:
        assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"
        expect(outcome_row(page, name)).to_contain_text("approved")
    expect(card(page, names[2])).to_be_visible()
    assert stack.describe(names[2])["status"] == "RUNNING"


def test_each_card_lists_the_items_being_approved(stack, controller, page):
    name = stack.start()
    controller.wait_for_pending(name)

    page.goto(controller.url + "/")

    rows = card(page, name).locator("table.items tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_text(re.compile(r"BOOK-1\s*2\s*12\.50\s*25\.00"))
    expect(rows.nth(1)).to_have_text(re.compile(r"PEN-7\s*1\s*3\.00\s*3\.00"))
    expect(card(page, name).locator("table.items tfoot")).to_contain_text("28.00 EUR")


def test_an_approver_signs_in_approves_and_sees_their_name_on_the_decision(stack, controller, page):
    name = stack.start()
    controller.wait_for_pending(name)
    add_user(controller.app.config["DATABASE"], "Ada Byron")

    page.goto(controller.url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("Name").fill("Ada Byron")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_contain_text("Signed in as Ada Byron (approver)")
    expect(page.get_by_label("Your name")).to_have_count(0)  # the name is the signed-in user's
    card(page, name).get_by_role("button", name="Approve order ORD-1001").click()

    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 approved.")
    expect(outcome_row(page, name)).to_contain_text("by Ada Byron")
    assert json.loads(stack.wait_until_finished(name)["output"])["approval"]["approver"] == "Ada Byron"


def test_a_viewer_signed_in_sees_the_orders_without_decision_buttons(stack, controller, page):
    name = stack.start()
    controller.wait_for_pending(name)
    add_user(controller.app.config["DATABASE"], "Vic", "viewer")

    page.goto(controller.url + "/signin")
    page.get_by_label("Name").fill("Vic")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(card(page, name)).to_contain_text("Order ORD-1001")
    expect(page.locator("#signed-in")).to_contain_text("you may look, not decide")
    expect(card(page, name).get_by_role("button")).to_have_count(0)


def test_a_page_whose_session_ends_keeps_its_cards_and_says_it_was_signed_out(
    stack, controller_factory, page, tmp_path
):
    add_user(tmp_path / "approvals.sqlite3", "Ada")
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    name = stack.start()
    sign_in(page, controller.url, "Ada")
    expect(card(page, name)).to_be_visible()

    assert users_command(tmp_path / "approvals.sqlite3", "token", "Ada").returncode == 0  # ends her sessions

    expect(page.locator("#messages")).to_contain_text("You were signed out", timeout=15_000)
    for _ in range(2):  # two more refreshes, each answered with the sign-in form
        with page.expect_response(lambda answer: "/signin" in answer.url, timeout=15_000):
            pass
    expect(card(page, name)).to_be_visible()
    expect(page.locator("#messages")).not_to_contain_text("no longer on this list")
    expect(page.locator("#messages .announced")).to_have_count(1)


def test_a_page_served_under_another_host_name_cannot_read_pending(stack, controller, browser):
    name = stack.start()
    controller.wait_for_pending(name)
    port = controller.url.rsplit(":", 1)[1]
    # a second Chromium whose DNS sends evil.example to 127.0.0.1, as a rebinding attacker's would
    rebinding = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
    )
    try:
        evil = rebinding.new_page()
        shown = evil.goto(f"http://evil.example:{port}/pending")
        shown_text = shown.text()
        read = evil.evaluate(
            """async () => {
                const listed = await fetch("/pending");
                const approved = await fetch("/approve", {method: "POST"});
                return [listed.status, await listed.text(), approved.status];
            }"""
        )
    finally:
        rebinding.close()

    assert shown.status == 400 and name not in shown_text and "UnknownHost" in shown_text
    assert read[0] == 400 and name not in read[1] and read[2] == 400
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def sign_in(page, url: str, name: str) -> None:
    page.goto(url + "/signin")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_contain_text(f"Signed in as {name}")


def test_a_rules_progress_shows_live_and_approve_is_disabled_with_the_reason(
    stack, controller_factory, browser, page, tmp_path
):
    (tmp_path / "policy.yaml").write_text(LARGE_ORDERS_RULES)
    people = {"alice": ("finance",), "bob": ("ops",), "carol": ("finance",)}
    tokens = {who: add_user(tmp_path / "approvals.sqlite3", who, groups=groups) for who, groups in people.items()}
    # a refresh period far longer than the test: only the /events stream can update the page
    controller = controller_factory(stack, POLICY_FILE=str(tmp_path / "policy.yaml"), PAGE_REFRESH_SECONDS=600)
    controller.headers = {"Authorization": f"Bearer {tokens['carol']}"}
    name = stack.start({**ORDER, "items": [{"sku": "GPU-1", "quantity": 1, "unit_price": 1000}], "requested_by": "bob"})
    controller.wait_for_pending(name)
    outsider = browser.new_context(viewport={"width": 1280, "height": 900})
    outsider.set_default_timeout(WAIT_MS)
    bobs = outsider.new_page()

    sign_in(page, controller.url, "alice")
    sign_in(bobs, controller.url, "bob")
    page.evaluate("window.notReloaded = true")
    assert controller.post(f"/approve/{name}").json()["state"] == "pending"  # carol's approval, elsewhere

    expect(card(page, name)).to_contain_text("large orders: 2 of members of finance")
    expect(card(page, name)).to_contain_text(re.compile(r"Requested by\s*bob"))
    expect(card(page, name).locator('[data-live="approvals"]')).to_have_text("1 of 2: carol")
    assert page.evaluate("window.notReloaded") is True
    refused = card(bobs, name).get_by_role("button", name="Approve order ORD-1001")
    expect(refused).to_be_disabled()
    expect(card(bobs, name)).to_contain_text("bob requested this order")
    outsider.close()
    card(page, name).get_by_role("button", name="Approve order ORD-1001").click()
    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 approved.")
    output = json.loads(stack.wait_until_finished(name)["output"])["approval"]
    assert [given["approver"] for given in output["approvals"]] == ["carol", "alice"]
