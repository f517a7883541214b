"""The store contract for users, the sign-in lockout and the audit trail."""

from __future__ import annotations

from controller.storage.records import AuditAttempt


def test_no_user_means_local_mode_and_the_first_one_switches_sign_in_on(store):
    assert not store.has_users() and store.users() == []

    assert store.add_user("grace", "approver", "scrypt$hash", "token-hash")

    assert store.has_users()
    grace = store.user("grace")
    assert (grace.name, grace.role, grace.password_hash, grace.token_hash) == (
        "grace",
        "approver",
        "scrypt$hash",
        "token-hash",
    )
    assert grace.created_at
    assert "scrypt$hash" not in repr(grace) and "token-hash" not in repr(grace)


def test_a_name_is_taken_once(store):
    store.add_user("grace", "approver", "p1", "t1")

    assert not store.add_user("grace", "viewer", "p2", "t2")
    assert store.user("grace").role == "approver"


def test_users_are_listed_by_name_and_can_be_removed(store):
    for name in ("linus", "ada", "grace"):
        store.add_user(name, "viewer", "p", "t")

    assert [u.name for u in store.users()] == ["ada", "grace", "linus"]
    assert store.remove_user("grace") and not store.remove_user("grace")
    assert store.user("grace") is None and [u.name for u in store.users()] == ["ada", "linus"]


def test_a_new_token_replaces_the_old_one(store):
    store.add_user("grace", "approver", "p", "old")

    assert store.replace_token("grace", "new")
    assert not store.replace_token("nobody", "new")
    assert store.user("grace").token_hash == "new"


def test_names_are_one_name_whatever_their_case_or_unicode_form(store):
    assert store.add_user("Gr\u00e2ce", "approver", "p", "t")

    assert not store.add_user("GRA\u0302CE", "viewer", "p2", "t2")  # upper case, and NFD
    assert store.user("gr\u00e2ce").name == "Gr\u00e2ce"
    assert [u.name for u in store.users()] == ["Gr\u00e2ce"]


def test_once_a_user_existed_the_store_stays_closed_until_reopened_on_purpose(store):
    assert store.sign_in_state() == "open"
    store.add_user("grace", "approver", "p", "t")
    assert store.sign_in_state() == "on"
    store.remove_user("grace")

    assert not store.has_users() and store.sign_in_state() == "closed"
    assert store.reopen() and store.sign_in_state() == "open"
    store.add_user("ada", "approver", "p", "t")
    assert not store.reopen() and store.sign_in_state() == "on"  # not while a user exists


def test_a_session_lasts_until_its_user_changes_or_it_ends_and_others_are_untouched(store):
    for name in ("grace", "ada"):
        store.add_user(name, "approver", "p", "t")
    store.start_session("s1", "grace", 3600, "p")
    store.start_session("s2", "grace", 3600, "p")
    store.start_session("s3", "ada", 3600, "p")
    store.start_session("expired", "ada", 0, "p")

    assert store.session_user("s1").name == "grace" and store.session_user("unknown") is None
    assert store.session_user("expired") is None
    store.end_sessions("grace")
    assert (store.session_user("s1"), store.session_user("s2")) == (None, None)
    assert store.session_user("s3").name == "ada"


def test_a_new_token_a_new_password_or_removal_ends_every_session_of_that_user(store):
    store.add_user("grace", "approver", "p", "t")
    for step, change in enumerate(
        (lambda: store.replace_token("grace", "t2"), lambda: store.replace_password("grace", "p2"))
    ):
        assert store.start_session(f"s{step}", "grace", 3600, "p")
        assert change()
        assert store.session_user(f"s{step}") is None
    assert store.user("grace").password_hash == "p2" and not store.replace_password("nobody", "p")
    assert store.start_session("last", "grace", 3600, "p2")
    store.remove_user("grace")
    store.add_user("grace", "approver", "p3", "t3")
    assert store.session_user("last") is None  # not back to life with a new user of that name


def test_a_session_checked_against_a_password_since_replaced_or_a_removed_user_is_not_started(store):
    store.add_user("grace", "approver", "p", "t")
    assert store.replace_password("grace", "p2")  # while the sign-in with "p" was being checked

    assert not store.start_session("stale", "grace", 3600, "p")
    assert store.session_user("stale") is None
    assert store.start_session("fresh", "grace", 3600, "p2")
    store.remove_user("grace")
    assert not store.start_session("gone", "grace", 3600, "p2")
    store.add_user("grace", "approver", "p2", "t")  # a new user of that name, with the same password even
    assert (store.session_user("gone"), store.session_user("fresh")) == (None, None)


def test_attempts_are_counted_before_the_check_and_the_one_past_the_limit_is_refused(store):
    keys = ["name:grace", "address:127.0.0.1"]

    taken = [store.take_attempt(keys, max_attempts=3, lockout_seconds=300) for _ in range(4)]

    assert taken[:3] == [None, None, None] and taken[3] is not None
    assert store.take_attempt(["address:127.0.0.1"], 3, 300) == store.locked_until(keys)  # both keys locked
    assert store.take_attempt(["name:ada", "address:10.0.0.9"], 3, 300) is None


def test_a_success_clears_the_name_and_takes_back_only_its_own_attempt_from_the_address(store):
    name, address = "name:grace", "address:127.0.0.1"
    for guess in range(2):
        store.take_attempt([f"name:victim{guess}", address], 3, 300)  # two failures from the address
    store.take_attempt([name], 3, 300)

    assert store.take_attempt([name, address], 3, 300) is None  # the third attempt, which succeeds
    store.forgive_attempt(name, address)

    assert store.take_attempt([name], 3, 300) is None  # the name starts again from nothing
    assert store.take_attempt(["name:victim9", address], 3, 300) is None  # the address is back at 2: one more
    assert store.take_attempt(["name:victim10", address], 3, 300) is not None


def test_a_lockout_ends_when_its_time_is_up(store):
    store.take_attempt(["address:10.0.0.1"], max_attempts=0, lockout_seconds=0)

    assert store.locked_until(["address:10.0.0.1"]) is None


def test_attempts_to_decide_are_kept_per_request_in_order(store):
    first = AuditAttempt("grace", "approver", "127.0.0.1", "approve", "exec-1", 409, "AlreadyDecided")
    second = AuditAttempt(None, "local", "127.0.0.1", "reject", "exec-1", 200, "rejected")
    store.record_attempt(first)
    store.record_attempt(AuditAttempt("ada", "viewer", "10.0.0.2", "approve", "exec-2", 403, "NotAllowed"))
    store.record_attempt(second)

    trail = store.audit_trail("exec-1")

    assert [(e.actor, e.role, e.address, e.action, e.status, e.outcome) for e in trail] == [
        ("grace", "approver", "127.0.0.1", "approve", 409, "AlreadyDecided"),
        (None, "local", "127.0.0.1", "reject", 200, "rejected"),
    ]
    assert trail[0].id < trail[1].id and all(e.at and e.request_id == "exec-1" for e in trail)
    assert store.audit_trail("exec-3") == []
