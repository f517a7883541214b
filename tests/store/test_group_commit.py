"""One controller's changes waiting for the same numbering item commit together: one transaction numbers them all,
and each caller still gets its own answer. The first transaction is held back (in botocore's before-send, so its
thread keeps the lead) while the others queue up, so that the test knows which changes wait together."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError

from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.dynamodb.numbering import MAX_BYTES, MAX_CHANGES, Head
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest, AuditAttempt, Decision, NewRequest
from harness.emulator import Emulator
from harness.store_records import new_request
from harness.waiting import wait_for

WAIT_SECONDS = 30


@dataclass
class Watched:
    """A controller's backend on the shared table, with the transactions its client sent and the errors it got."""

    backend: DynamoDbBackend
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    held: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def count(self, event_name: str, **_: object) -> None:
        if event_name.endswith("TransactWriteItems"):
            self.sent.update(["TransactWriteItems"])
            if not self.go.is_set():
                self.held.set()
                assert self.go.wait(WAIT_SECONDS), "the held transaction was never let go"

    def note(self, parsed: dict[str, Any], **_: object) -> None:
        self.answered.update([parsed.get("Error", {}).get("Code", "ok")])

    def queued(self, head: Head, count: int) -> None:
        """Wait until this many changes wait for the head, the held one's included."""
        wait_for(lambda: len(head.waiting) >= count, WAIT_SECONDS, f"{count} changes waiting for the head")


@pytest.fixture
def one(shared: DynamoDbBackend, emulator: Emulator) -> Watched:
    client = emulator.client("dynamodb")
    watched = Watched(DynamoDbBackend(client, shared.table))
    watched.go.set()  # nothing held until a test holds it
    client.meta.events.register("before-send", watched.count)
    client.meta.events.register_last("after-call", watched.note)
    return watched


@contextmanager
def holding_the_first(one: Watched, pool: ThreadPoolExecutor, first: Callable[[], Any]) -> Iterator[Future[Any]]:
    """Start `first` and hold its transaction back until the block ends: what is started in it waits meanwhile."""
    one.sent.clear()
    one.held.clear()
    one.go.clear()
    started = pool.submit(first)
    assert one.held.wait(WAIT_SECONDS), "the first change never sent its transaction"
    try:
        yield started
    finally:
        one.go.set()


def test_changes_waiting_together_commit_in_one_transaction_after_learning_the_head(
    shared: DynamoDbBackend, one: Watched
) -> None:
    for _ in range(3):
        shared.open().save_request(new_request())  # another controller moved the head to 3

    with ThreadPoolExecutor(8) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(new_request())) as first:
            others = [pool.submit(one.backend.open().save_request, new_request()) for _ in range(7)]
            one.queued(one.backend.heads.events, 8)
        assert first.result() and all(other.result() for other in others)

    # the first try took number 1 and came back cancelled with the head; the next took all eight at once
    assert one.sent == {"TransactWriteItems": 2}
    assert [event.seq for event in shared.open().events_after(0)] == list(range(1, 12))


def test_no_transaction_takes_more_changes_than_the_most_of_a_batch(shared: DynamoDbBackend, one: Watched) -> None:
    with ThreadPoolExecutor(MAX_CHANGES + 2) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(new_request())):
            others = [pool.submit(one.backend.open().save_request, new_request()) for _ in range(MAX_CHANGES + 1)]
            one.queued(one.backend.heads.events, MAX_CHANGES + 2)
        assert all(other.result() for other in others)

    assert one.sent == {"TransactWriteItems": 3}  # the held one, a full batch, and the one left over
    assert [event.seq for event in shared.open().events_after(0)] == list(range(1, MAX_CHANGES + 3))


def test_changes_together_larger_than_the_most_of_a_batch_commit_in_several_transactions(
    shared: DynamoDbBackend, one: Watched
) -> None:
    # orders the API's schema takes stay under 13 kB, MAX_CHANGES of them far under MAX_BYTES; one sent to the
    # state machine otherwise may be as large as its 256 kB payload: an item (400 KB at most) each, and three
    # of them fit a batch but not four
    large = [new_request(note="x" * (MAX_BYTES // 4)) for _ in range(6)]

    with ThreadPoolExecutor(len(large) + 1) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(new_request())):
            saved = []
            for waiting, request in enumerate(large, start=2):  # one after the other: the order they wait in
                saved.append(pool.submit(one.backend.open().save_request, request))
                one.queued(one.backend.heads.events, waiting)
        assert all(each.result() for each in saved)

    # the held one, then three large changes in each of two (the emulator, unlike DynamoDB, takes even a
    # transaction over 4 MB: only the count shows the split)
    assert one.sent == {"TransactWriteItems": 3}
    events = shared.open().events_after(0)
    assert [event.seq for event in events] == list(range(1, len(large) + 2))
    assert [event.request_id for event in events[1:]] == [request.id for request in large]


def claimed_by_grace(store: Store) -> tuple[NewRequest, ApprovalRequest | None]:
    """A request stored and then claimed for Grace's approval, and the record of it read while it was pending."""
    request = new_request()
    store.save_request(request)
    pending = store.get_request(request.id)
    assert store.claim(request.id, Decision("approve", "Grace")) is not None
    return request, pending


def test_a_change_whose_condition_fails_in_a_batch_is_refused_alone_and_the_others_commit(
    shared: DynamoDbBackend, one: Watched
) -> None:
    store = one.backend.open()
    decided, stale = claimed_by_grace(store)
    arrived = [new_request() for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        with holding_the_first(one, pool, lambda: store.save_request(arrived[0])):
            claim = pool.submit(one.backend.open().claim, decided.id, Decision("reject", "Alan"), stale)
            later = [pool.submit(one.backend.open().save_request, request) for request in arrived[1:]]
            one.queued(one.backend.heads.events, 4)
        assert claim.result() is None and all(saved.result() for saved in later)

    # the held one; the batch of three, cancelled by the claim's condition; the two left, numbered anew
    assert one.sent == {"TransactWriteItems": 3}
    events = shared.open().events_after(0)
    assert [event.seq for event in events] == [1, 2, 3, 4, 5]
    assert events[2].request_id == arrived[0].id
    assert {event.request_id for event in events[3:]} == {request.id for request in arrived[1:]}
    stored = shared.open().get_request(decided.id)
    assert stored is not None and stored.decision == Decision("approve", "Grace")


def test_two_changes_of_one_request_waiting_together_commit_one_after_the_other(
    shared: DynamoDbBackend, one: Watched
) -> None:
    store = one.backend.open()
    request, pending = claimed_by_grace(store)

    with ThreadPoolExecutor(4) as pool:
        with holding_the_first(one, pool, lambda: store.save_request(new_request())):
            released = pool.submit(one.backend.open().release, request.id)
            one.queued(one.backend.heads.events, 2)
            # claims the request as the release leaves it: it must commit after the release, not with it
            claimed = pool.submit(one.backend.open().claim, request.id, Decision("reject", "Alan"), pending)
            saved = pool.submit(one.backend.open().save_request, new_request())
            one.queued(one.backend.heads.events, 4)
        assert released.result() is None and claimed.result() is not None and saved.result()

    # the held one; the release with the new request; the claim, of the same item, in a transaction of its own
    assert one.sent == {"TransactWriteItems": 3}
    assert "ValidationException" not in one.answered
    stored = shared.open().get_request(request.id)
    assert stored is not None and stored.decision == Decision("reject", "Alan")
    assert [event.seq for event in shared.open().events_after(0)] == list(range(1, 7))


def test_a_change_refused_for_its_content_fails_alone_and_the_others_of_its_batch_commit(
    shared: DynamoDbBackend, one: Watched
) -> None:
    too_large = new_request(note="x" * 500_000)  # an item holds at most 400 KB
    arrived = [new_request() for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(arrived[0])):
            refused = pool.submit(one.backend.open().save_request, too_large)
            one.queued(one.backend.heads.events, 2)
            later = [pool.submit(one.backend.open().save_request, request) for request in arrived[1:]]
            one.queued(one.backend.heads.events, 4)
        with pytest.raises(ClientError) as error:
            refused.result()
        assert all(saved.result() for saved in later)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    # the held one; the batch of three, refused; each of them alone
    assert one.sent == {"TransactWriteItems": 5}
    events = shared.open().events_after(0)
    assert [event.request_id for event in events] == [request.id for request in arrived]
    assert [event.seq for event in events] == [1, 2, 3]


def test_changes_waiting_while_a_failure_of_the_table_is_noted_are_refused_unsent(
    shared: DynamoDbBackend, one: Watched
) -> None:
    def failing_once_answered(event_name: str, **_: object) -> None:
        if event_name.endswith("TransactWriteItems"):
            one.backend.health().failure = "the table failed meanwhile"

    with ThreadPoolExecutor(4) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(new_request())) as first:
            # after the store's own hook, which notes that the table answered
            one.backend.dynamodb.meta.events.register_last("after-call", failing_once_answered)
            others = [pool.submit(one.backend.open().save_request, new_request()) for _ in range(3)]
            one.queued(one.backend.heads.events, 4)
        assert first.result()
        refusals = []
        for other in others:
            with pytest.raises(StoreUnavailable, match="Nothing was sent") as refused:
                other.result()
            refusals.append(refused.value)

    assert len({id(refusal) for refusal in refusals}) == len(others)  # one refusal, a copy raised by each caller
    assert one.sent == {"TransactWriteItems": 1}
    assert [event.seq for event in shared.open().events_after(0)] == [1]


class DeniedBody:
    """The raw body of DynamoDB's answer to a client its policy no longer lets in, as botocore reads it."""

    def stream(self, **_: object) -> Iterator[bytes]:
        yield json.dumps({"__type": "AccessDeniedException", "message": "not authorized"}).encode()


def test_callers_of_a_batch_the_table_failed_each_raise_an_error_of_their_own(
    shared: DynamoDbBackend, one: Watched
) -> None:
    def denied_after_the_first(event_name: str, request: AWSPreparedRequest, **_: object) -> AWSResponse | None:
        # after Watched.count, on the same event: the held transaction is the first counted
        if not event_name.endswith("TransactWriteItems") or one.sent["TransactWriteItems"] == 1:
            return None
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, DeniedBody())

    one.backend.dynamodb.meta.events.register("before-send", denied_after_the_first)
    with ThreadPoolExecutor(3) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().save_request(new_request())) as first:
            others = [pool.submit(one.backend.open().save_request, new_request()) for _ in range(2)]
            one.queued(one.backend.heads.events, 3)
        assert first.result()
        failures = []
        for other in others:
            with pytest.raises(StoreUnavailable, match="AccessDeniedException") as failed:
                other.result()
            failures.append(failed.value)

    assert one.sent == {"TransactWriteItems": 2}  # the held one, then the batch of both others, denied
    one_failure, other_failure = failures
    cause = one_failure.__cause__
    assert one_failure is not other_failure and isinstance(cause, StoreUnavailable)
    assert other_failure.__cause__ is cause  # the batch's one failure, each caller's copy raised from it
    assert one_failure.as_dict() == other_failure.as_dict() == cause.as_dict()  # its code, message and reason
    assert cause.details["reason"]
    assert [event.seq for event in shared.open().events_after(0)] == [1]


def test_attempts_audited_together_commit_in_one_transaction(shared: DynamoDbBackend, one: Watched) -> None:
    def attempt(n: int) -> AuditAttempt:
        return AuditAttempt("Grace", "approver", None, "approve", f"req-{n % 2}", 200, "approved")

    with ThreadPoolExecutor(6) as pool:
        with holding_the_first(one, pool, lambda: one.backend.open().record_attempt(attempt(0))):
            others = [pool.submit(one.backend.open().record_attempt, attempt(n)) for n in range(1, 6)]
            one.queued(one.backend.heads.audit, 6)
        for other in others:
            other.result()

    assert one.sent == {"TransactWriteItems": 2}
    trails = [shared.open().audit_trail(f"req-{n}") for n in range(2)]
    assert sorted(event.id for trail in trails for event in trail) == list(range(1, 7))
