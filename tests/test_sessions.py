"""Page sessions are recorded server-side: a copied session cookie stops working the moment its user signs
out, gets a new token or password, or is removed, on every browser and across restarts."""

from __future__ import annotations

import re

import pytest
import requests

from harness.controllers import TEST_PASSWORD, ServedController, add_user, users_command

TIMEOUT = 30
NEW_PASSWORD = "a different long passphrase"


def sign_in(controller: ServedController, name: str, password: str) -> tuple[requests.Session, int]:
    """Sign in through the form as a browser; return the session and the form's answer status."""
    session = requests.Session()
    form = session.get(controller.url + "/signin", timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(
        controller.url + "/signin",
        data={"csrf_token": token, "name": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    return session, answer.status_code


def signed_in(controller: ServedController, name: str = "Ada", password: str = TEST_PASSWORD) -> requests.Session:
    """Return a browser session signed in through the form."""
    session, status = sign_in(controller, name, password)
    assert status == 303
    return session


def copy_of(session: requests.Session) -> requests.Session:
    """Return another client holding the same cookies, as an attacker who copied them would."""
    thief = requests.Session()
    thief.cookies.update(session.cookies)
    return thief


def works(session: requests.Session, controller: ServedController) -> bool:
    return session.get(controller.url + "/pending", timeout=TIMEOUT).status_code == 200


def sign_out(session: requests.Session, controller: ServedController) -> None:
    page = session.get(controller.url + "/", timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(controller.url + "/signout", data={"csrf_token": token}, timeout=TIMEOUT)


def rotate_token(_: requests.Session, controller: ServedController) -> None:
    assert users_command(controller.app.config["DATABASE"], "token", "Ada").returncode == 0


def change_password(_: requests.Session | None, controller: ServedController) -> None:
    changed = users_command(controller.app.config["DATABASE"], "passwd", "Ada", password=NEW_PASSWORD)
    assert changed.returncode == 0, changed.stderr


def remove_and_add_again(_: requests.Session, controller: ServedController) -> None:
    database = controller.app.config["DATABASE"]
    assert users_command(database, "remove", "Ada").returncode == 0
    assert users_command(database, "add", "Ada", "--role", "approver", password=NEW_PASSWORD).returncode == 0


@pytest.mark.parametrize("end", [sign_out, rotate_token, change_password, remove_and_add_again])
def test_a_copied_session_cookie_stops_working_when_its_user_is_signed_out_or_changed(controller, end):
    add_user(controller.app.config["DATABASE"], "Ada")
    add_user(controller.app.config["DATABASE"], "Bea")
    browser, other_browser, bystander = signed_in(controller), signed_in(controller), signed_in(controller, "Bea")
    thief = copy_of(browser)
    assert works(thief, controller) and works(other_browser, controller)

    end(browser, controller)

    assert not works(thief, controller)
    assert not works(other_browser, controller)  # every session of that user ends at once
    assert works(bystander, controller)  # and no one else's


def test_a_new_password_is_the_only_one_that_signs_in(controller):
    add_user(controller.app.config["DATABASE"], "Ada")

    change_password(None, controller)

    assert sign_in(controller, "Ada", NEW_PASSWORD)[1] == 303
    assert sign_in(controller, "Ada", TEST_PASSWORD)[1] == 401


def test_sessions_outlive_a_restart_and_so_does_their_end(stack, controller_factory):
    first = controller_factory(stack, SECRET_KEY="fixed for this test")
    add_user(first.app.config["DATABASE"], "Ada")
    browser, other = signed_in(first), signed_in(first)
    first.stop()

    second = controller_factory(stack, SECRET_KEY="fixed for this test")
    kept = works(browser, second) and works(other, second)  # cookies for 127.0.0.1 go to any of its ports
    sign_out(browser, second)
    second.stop()
    third = controller_factory(stack, SECRET_KEY="fixed for this test")

    assert kept
    assert not works(other, third) and not works(browser, third)
