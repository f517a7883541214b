"""The approver's page for keyboard and screen-reader users: axe-core's WCAG 2.1 AA rules in Chromium at a
phone's, a small phone's and a desktop's width in each of the page's states, and the focus cases a live page
can get wrong (a request arriving, the focused card decided elsewhere)."""

from __future__ import annotations

import re

import pytest

from harness.browser import WAIT_MS
from harness.controllers import TEST_PASSWORD, add_user
from harness.orders import ORDER
from stack.paths import PROJECT_ROOT

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (320, 390, 1280)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RULE_POLICY = """
rules:
  - name: large orders
    when: {total_at_least: 1000}
    approvals: 2
  - name: everything else
"""


@pytest.fixture
def audited(browser):
    """A page whose Content-Security-Policy lets the test inject axe-core (the page's own policy forbids it)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: npm install --no-save axe-core (.ci/run does)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def violations(page) -> list[str]:
    """Run axe-core's WCAG 2.1 A and AA rules at each width; return what fails, one line per rule, width and node."""
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
            ".map((v) => v.nodes.map((n) => v.id + ': ' + n.target.join(' ') + ' ' + n.failureSummary)).flat()",
            WCAG_21_AA,
        )
        found.extend(f"{width} px: {line}" for line in result)
    return found


def card(page, name: str):
    return page.locator(f'#pending-list > [data-id="{name}"]')


def focused(page) -> str:
    """Describe the element with keyboard focus: its tag, id and text, enough to tell the body from a card."""
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.tagName + '#' + e.id + ' ' + (e.value !== undefined ? e.value : e.textContent).trim(); })()"
    )


def test_every_state_of_the_local_page_passes_axe_at_three_widths(stack, controller_factory, audited):
    page = audited
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=1)
    page.goto(controller.url + "/")
    expect(page.locator("#pending")).to_contain_text("Nothing is waiting")
    assert violations(page) == [], "empty"

    names = [stack.start({**ORDER, "order_id": f"ORD-{number}"}) for number in (1, 2, 3)]
    for name in names:
        expect(card(page, name)).to_be_visible()
    assert violations(page) == [], "pending list"

    card(page, names[0]).get_by_role("button", name="Approve order ORD-1").click()
    expect(page.locator("#messages")).to_contain_text("Order ORD-1 approved.")
    expect(page.locator(f'#recent tr[data-id="{names[0]}"]')).to_be_visible()
    assert violations(page) == [], "after a decision"

    controller.post(f"/reject/{names[1]}", {"reason": "A reason long enough to make the table wide at 320 px"})
    page.goto(controller.url + "/history")
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    assert violations(page) == [], "history"

    page.goto(controller.url + "/insights")
    expect(page.locator("dl.figures")).to_contain_text("Waiting now")
    assert violations(page) == [], "insights"


def test_sign_in_and_a_rules_progress_pass_axe_at_three_widths(stack, controller_factory, audited, tmp_path):
    page = audited
    (tmp_path / "policy.yaml").write_text(RULE_POLICY)
    database = tmp_path / "approvals.sqlite3"
    tokens = {who: add_user(database, who) for who in ("alice", "carol")}
    controller = controller_factory(stack, POLICY_FILE=str(tmp_path / "policy.yaml"), PAGE_REFRESH_SECONDS=1)
    controller.headers = {"Authorization": f"Bearer {tokens['carol']}"}
    name = stack.start({**ORDER, "items": [{"sku": "GPU-1", "quantity": 1, "unit_price": 1000}]})
    controller.wait_for_pending(name)
    assert controller.post(f"/approve/{name}").json()["state"] == "pending"  # 1 of 2

    page.goto(controller.url + "/signin")
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong name or password.")
    assert violations(page) == [], "sign-in error"

    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(card(page, name).locator('[data-live="approvals"]')).to_have_text("1 of 2: carol")
    assert violations(page) == [], "signed in, a rule's progress"


def test_a_failed_sign_in_keeps_the_name_and_marks_both_fields_invalid(controller, page):
    add_user(controller.app.config["DATABASE"], "Ada Byron")
    page.goto(controller.url + "/signin")
    page.get_by_label("Name").fill("Ada Byron")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()

    name, password = page.get_by_label("Name"), page.get_by_label("Password")
    expect(name).to_have_value("Ada Byron")
    for field in (name, password):
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description("Wrong name or password.")
    expect(password).to_be_focused()


def test_the_skip_link_lands_on_the_requests_and_the_bulk_actions_come_before_the_cards(stack, controller, page):
    names = [stack.start({**ORDER, "order_id": f"ORD-{number}"}) for number in (1, 2, 3)]
    for name in names:
        controller.wait_for_pending(name)
    page.goto(controller.url + "/")
    expect(card(page, names[2])).to_be_visible()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the requests")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#pending-heading")).to_be_focused()
    page.keyboard.press("Tab")
    bulk = page.get_by_role("region", name="Decide the selected requests")
    expect(bulk.locator("summary")).to_be_focused()
    page.keyboard.press("Enter")  # unfolds the bulk actions
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(bulk.get_by_role("button", name="Approve selected")).to_be_focused()

    for name in names[:2]:
        card(page, name).get_by_label("Select").check()
    expect(bulk.get_by_role("status")).to_have_text("2 selected.")
    card(page, names[0]).get_by_label("Select").uncheck()
    expect(bulk.get_by_role("status")).to_have_text("1 selected.")


def rings(page) -> list[list[object]]:
    """Focus each visible button after a key press (so that :focus-visible applies); return its text, outline
    style and width, and whether the outline's colour differs from the button's."""
    page.keyboard.press("Tab")
    found = []
    for button in page.locator("button:visible").all():
        button.focus()
        found.append(
            button.evaluate(
                "(b) => { const s = getComputedStyle(b);"
                " return [b.textContent.trim(), s.outlineStyle, parseFloat(s.outlineWidth),"
                " s.outlineColor !== s.backgroundColor]; }"
            )
        )
    return found


def test_the_focus_ring_shows_on_every_button(stack, controller, page):
    for _ in range(2):  # two cards: with one, the bulk actions are hidden
        controller.wait_for_pending(stack.start())
    page.goto(controller.url + "/")
    page.locator(".finder summary").click()  # the search, folded in the header until opened
    page.locator("#bulk summary").click()
    shown = rings(page)  # local mode: Find, Save name, the bulk and the card's buttons
    add_user(controller.app.config["DATABASE"], "Ada Byron")
    page.goto(controller.url + "/signin")
    shown += rings(page)
    page.get_by_label("Name").fill("Ada Byron")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_be_visible()
    shown += rings(page)

    assert {ring[0] for ring in shown} >= {"Find", "Save name", "Sign in", "Sign out", "Approve selected"}
    assert [ring for ring in shown if ring[1:] != ["solid", 3, True]] == []


@pytest.mark.parametrize("where", ["a half-typed reason", "its Approve button"])
def test_the_focused_card_decided_elsewhere_keeps_focus_and_typed_text_and_says_so(
    stack, controller_factory, page, where
):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)  # only the event stream updates the page
    first, second = stack.start(), stack.start({**ORDER, "order_id": "ORD-1002"})
    controller.wait_for_pending(first)
    controller.wait_for_pending(second)
    page.goto(controller.url + "/")
    reason = card(page, first).get_by_label("Reason for rejecting order ORD-1001")
    if where == "a half-typed reason":
        reason.fill("Half typed")
        held = reason
    else:
        held = card(page, first).get_by_role("button", name="Approve order ORD-1001")
        held.focus()

    assert controller.post(f"/approve/{first}", {"approver": "Ada"}).status_code == 200

    expect(card(page, first)).to_contain_text("Order ORD-1001 was approved elsewhere (by Ada).")
    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 was approved elsewhere (by Ada).")
    expect(page.locator("#messages")).to_contain_text("Waiting for a decision: 1.")
    expect(held).to_be_focused()
    expect(reason).to_have_value("Half typed" if where == "a half-typed reason" else "")
    card(page, first).get_by_role("button", name="Remove from the list").focus()
    page.keyboard.press("Enter")
    expect(card(page, first)).to_have_count(0)
    expect(card(page, second).get_by_role("heading")).to_be_focused()


def test_a_card_decided_elsewhere_without_focus_or_text_goes_and_focus_stays(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)
    first, second = stack.start(), stack.start({**ORDER, "order_id": "ORD-1002"})
    controller.wait_for_pending(first)
    controller.wait_for_pending(second)
    page.goto(controller.url + "/")
    reason = card(page, second).get_by_label("Reason for rejecting order ORD-1002")
    reason.fill("Still typing")

    assert controller.post(f"/reject/{first}", {"reason": "no"}).status_code == 200

    expect(card(page, first)).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("Order ORD-1001 was rejected elsewhere.")
    expect(reason).to_be_focused()
    expect(reason).to_have_value("Still typing")


def test_a_request_arriving_after_a_decision_keeps_the_focused_confirmation(stack, controller_factory, page):
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)
    name = stack.start()
    controller.wait_for_pending(name)
    page.goto(controller.url + "/")
    card(page, name).get_by_role("button", name="Approve order ORD-1001").focus()
    page.keyboard.press("Enter")
    confirmation = page.locator("#messages .message", has_text="Order ORD-1001 approved.")
    expect(confirmation).to_be_focused()

    arrived = stack.start({**ORDER, "order_id": "ORD-1002"})

    expect(card(page, arrived)).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("1 new request is waiting for a decision.")
    expect(confirmation).to_be_focused()
    assert not re.match(r"BODY", focused(page))
