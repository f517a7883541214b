"""The store contract where it promises atomicity: the same change made by several controllers at once (here,
threads with stores of their own, released together) comes out as if they had taken turns."""

from __future__ import annotations

from controller.storage.interface import Backend, Store
from harness.together import AT_ONCE, all_at_once


def test_parallel_attempts_on_one_address_are_let_through_exactly_up_to_the_limit(backend: Backend) -> None:
    limit = 3
    names = [f"name:guess{number}" for number in range(AT_ONCE)]

    taken = all_at_once(backend, lambda store, name: store.take_attempt([name, "address:10.0.0.7"], limit, 300), names)

    refused = [until for until in taken if until is not None]
    assert len(refused) == AT_ONCE - limit, taken
    assert len(set(refused)) == 1  # one lockout, which every refused attempt names
    store = backend.open()
    assert store.locked_until(["address:10.0.0.7"]) == refused[0]
    assert store.locked_until([names[0]]) is None  # no name had more than one attempt
    store.close()


def test_parallel_attempts_on_a_locked_key_count_nothing_on_the_others(backend: Backend) -> None:
    store = backend.open()
    store.take_attempt(["address:10.0.0.8"], 0, 300)  # locked at once

    taken = all_at_once(backend, lambda s, n: s.take_attempt([f"name:n{n}", "address:10.0.0.8"], 1, 300), [0, 1, 2])

    assert None not in taken
    assert store.take_attempt(["name:n0"], 1, 300) is None  # its refused attempt was not counted
    assert store.take_attempt(["name:n0"], 1, 300) is not None
    store.close()


def test_one_name_added_at_once_in_several_forms_is_added_once(backend: Backend) -> None:
    forms = ["grace", "Grace", "GRACE", "\uff27race", "gRACE", "GrAcE"]  # \uff27: a fullwidth G

    added = all_at_once(backend, lambda store, name: store.add_user(name, "approver", "p", "t"), forms)

    assert added.count(True) == 1
    store = backend.open()
    assert [user.name for user in store.users()] == [forms[added.index(True)]]
    store.close()


def test_users_added_and_removed_at_once_leave_the_store_closed_and_empty(backend: Backend) -> None:
    names = [f"user{number}" for number in range(AT_ONCE)]
    all_at_once(backend, lambda store, name: store.add_user(name, "viewer", "p", "t"), names)

    removed = all_at_once(backend, lambda store, name: store.remove_user(name), names + names)

    assert removed.count(True) == len(names)
    store = backend.open()
    assert not store.has_users() and store.sign_in_state() == "closed"
    assert store.reopen() and store.sign_in_state() == "open"
    store.close()


def reopen_or_add(store: Store, step: tuple[str, str]) -> bool:
    action, name = step
    return store.reopen() if action == "reopen" else store.add_user(name, "viewer", "p", "t")


def test_reopening_while_a_user_is_added_never_leaves_a_user_in_local_mode(backend: Backend) -> None:
    for name in ("ada", "grace", "linus", "hedy"):
        all_at_once(backend, reopen_or_add, [("reopen", name), ("add", name)])

        store = backend.open()
        assert store.sign_in_state() == "on"
        assert store.remove_user(name) and store.reopen()
        store.close()


def test_a_session_started_on_one_controller_ends_on_every_one_when_its_token_is_replaced(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    first.add_user("grace", "approver", "p", "t")
    first.start_session("secret", "grace", 3600, "p")

    assert second.session_user("secret").name == "grace"
    assert second.replace_token("grace", "t2")
    assert first.session_user("secret") is None
    first.close()
    second.close()
