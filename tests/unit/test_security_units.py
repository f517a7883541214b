"""Sign-in and edge pieces without a server: settings, hashes, hidden characters, the start-up checks, host names."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from controller.access import auth, credentials
from controller.core import text
from controller.core.config import ConfigurationError, settings
from harness.controllers import add_user


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("off", False), ("", False)])
def test_a_true_or_false_setting_reads_the_usual_spellings(raw, expected):
    assert settings({"CONTROLLER_SECURE_COOKIES": raw})["SECURE_COOKIES"] is expected


def test_a_true_or_false_setting_refuses_anything_else():
    with pytest.raises(ConfigurationError, match="CONTROLLER_SECURE_COOKIES must be true or false"):
        settings({"CONTROLLER_SECURE_COOKIES": "maybe"})


def test_a_password_is_stored_as_a_salted_scrypt_hash_and_checked():
    stored = credentials.hash_password("correct horse")

    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert stored != credentials.hash_password("correct horse")  # salted
    assert credentials.password_matches("correct horse", stored)
    assert not credentials.password_matches("correct horsE", stored)
    assert not credentials.password_matches("anything", None)  # an unknown name


def test_a_token_is_stored_as_its_hash_only():
    token = credentials.new_token()

    assert token.startswith("hat_") and len(token) > 40
    assert credentials.token_matches(token, credentials.hash_token(token))
    assert not credentials.token_matches(token + "x", credentials.hash_token(token))


def test_hidden_characters_are_shown_as_a_mark_and_markup_and_newlines_are_left_alone():
    assert text.neutralised("a\u202eb\x00c\u2066d\x9be") == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert text.neutralised("two\nlines\tok") == "two\nlines\tok"
    assert text.neutralised(Markup("<b>\u202e</b>")) == Markup("<b>\u202e</b>")
    assert text.neutralised(5) == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"HOST": "0.0.0.0"}, "CONTROLLER_HOST=0.0.0.0 makes this controller reachable"),
        ({"HOST": "192.0.2.10"}, "users add NAME --role approver"),
        (
            {"TRUSTED_PROXY_HEADER": "X-Forwarded-Email", "TRUSTED_PROXIES": "127.0.0.1"},
            "CONTROLLER_TRUSTED_PROXIES makes",
        ),
        ({"ALLOWED_HOSTS": "approvals.example.com"}, "CONTROLLER_ALLOWED_HOSTS makes"),
        ({"TRUSTED_PROXY_HEADER": "X-Forwarded-Email"}, "needs CONTROLLER_TRUSTED_PROXIES"),
    ],
)
def test_serving_beyond_this_machine_without_users_is_refused(make_app, overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        auth.check_bind(make_app(**overrides))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_binds_need_no_users(make_app, host):
    auth.check_bind(make_app(HOST=host))


def test_a_bind_beyond_loopback_with_a_user_is_served(make_app):
    app = make_app(HOST="0.0.0.0")
    add_user(app.config["DATABASE"], "Ada")

    auth.check_bind(app)
    assert auth.mode_description(app) == "sign-in required, 1 user(s)"


@pytest.mark.parametrize(
    ("host", "status"),
    [("localhost", 200), ("[::1]", 200), ("127.0.0.1:80", 200), ("localhost:81", 400), ("evil.example", 400)],
)
def test_host_names_are_checked_with_the_port_the_scheme_implies(client, host, status):
    # the test client serves "port 80" over http

    assert client.get("/health", headers={"Host": host}).status_code == status


def test_a_controller_without_an_aws_region_says_which_setting_is_missing(make_app, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(ConfigurationError, match="set AWS_REGION"):
        make_app(AWS_REGION=None)
