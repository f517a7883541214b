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


def test_the_last_failure_allowed_locks_the_key_and_a_success_forgets_the_count(store):
    keys = ["name:grace", "address:127.0.0.1"]
    for _ in range(2):
        store.count_failure("name:grace", max_failures=3, lockout_seconds=300)
    assert store.locked_until(keys) is None
    store.forget_failures(["name:grace"])
    for _ in range(2):
        store.count_failure("name:grace", max_failures=3, lockout_seconds=300)
    assert store.locked_until(keys) is None  # the count started again

    store.count_failure("name:grace", max_failures=3, lockout_seconds=300)

    until = store.locked_until(keys)
    assert until is not None and store.locked_until(["address:127.0.0.1"]) is None


def test_a_lockout_ends_when_its_time_is_up(store):
    store.count_failure("address:10.0.0.1", max_failures=1, lockout_seconds=0)

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
