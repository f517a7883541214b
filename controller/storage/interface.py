"""The store seam: every query the controller makes, grouped by concern, in records rather than rows.

A `Backend` opens a `Store` for one unit of work (a request, a background loop, one id of a bulk
decision) and the caller closes it when that work ends. Each state change of a request is guarded
by the state it leaves, so two writers can never both move one request, whichever store keeps it.
The contract tests in tests/store/ hold every implementation to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from controller.storage.records import (
    Approval,
    ApprovalOutcome,
    ApprovalRequest,
    AuditAttempt,
    AuditEvent,
    DailyOutcomes,
    Decision,
    DecisionTimes,
    DueNotification,
    ExecutionStatus,
    FollowUp,
    FollowUpKind,
    Health,
    Lease,
    NewRequest,
    NotificationCounts,
    NotificationKind,
    PendingSummary,
    RequestQuery,
    SetAsideMessage,
    SignInState,
    StoredEvent,
    User,
)

TIMEOUT_PASSED = "The approval timeout passed."  # the closed_reason of a request that expired


class RequestStore(Protocol):
    """Approval requests, from arrival to their end."""

    def save_request(self, request: NewRequest, notify: bool = False) -> bool:
        """Store a request unless it is already stored (SQS may deliver a message twice); with notify, queue
        its webhook notification at once, so that neither is kept without the other. True if it was new."""
        ...

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        """Return the stored request with this id, or None."""
        ...

    def request_as_seen(self, request_id: str) -> ApprovalRequest | None:
        """Return the request as this process read it moments ago, if it did and it was pending then, else as
        stored; or None. For a change whose own condition checks the request's state: the record may be old."""
        ...

    def pending(self, limit: int = -1) -> list[ApprovalRequest]:
        """Return pending requests, oldest arrival first; limit -1 means all."""
        ...

    def count_pending(self) -> int:
        """Return how many requests wait for a decision."""
        ...

    def recent_ended(self, limit: int = 10) -> list[ApprovalRequest]:
        """Return the latest requests that ended (decided, expired or closed), newest first."""
        ...

    def expire_overdue(self, request_id: str | None = None) -> None:
        """Mark pending requests (all, or the one named) whose approval timeout has passed as expired."""
        ...

    def stale(self, older_than_seconds: float, limit: int) -> list[ApprovalRequest]:
        """Return pending requests whose execution has not been looked at for a while, least recently first."""
        ...

    def touch(self, request_id: str) -> None:
        """Note that the request's execution was just looked at."""
        ...

    def claim(self, request_id: str, decision: Decision, read: ApprovalRequest | None = None) -> ApprovalRequest | None:
        """Reserve a pending request for one decision and return it claimed; None if it is not pending.

        `read` is the request as the caller just read it: a store that builds the change from the request's
        times then need not read it again, and still claims it only if it is pending."""
        ...

    def add_approval(self, request_id: str, approval: Approval, required: int) -> ApprovalOutcome:
        """Record one person's approval of a pending request, at most once per approver; the approval that
        makes `required` also claims the request for `Decision("approve", approver, comment)`, in one atomic
        step, so that two last approvals racing claim it once."""
        ...

    def approvals(self, request_id: str) -> list[Approval]:
        """Return the approvals a request has received, oldest first."""
        ...

    def stale_claims(self, older_than_seconds: float) -> list[ApprovalRequest]:
        """Return requests claimed for a decision longer ago than any AWS call can take."""
        ...

    def release(self, request_id: str) -> None:
        """Return a claimed request to pending, its decision forgotten, after a call that reached no one; an
        approval that claimed it (add_approval) is taken back too, so that its approver can send it again."""
        ...

    def finish(
        self,
        request_id: str,
        state: str,
        closed_reason: str | None,
        from_state: str,
        read: ApprovalRequest | None = None,
    ) -> ApprovalRequest | None:
        """Record the end of a request (approved, rejected, expired, closed) if it is still in from_state, and
        return it as ended; None if it was not. `read` is the request as the caller holds it, as for claim."""
        ...

    def keep_final_execution(self, request_id: str, execution: ExecutionStatus) -> None:
        """Keep an execution's status once it has ended, so that it need not be asked for again."""
        ...


class EventStore(Protocol):
    """The numbered log of requests being stored and changing state, which /events streams."""

    def events_after(self, seq: int, limit: int = 500) -> list[StoredEvent]:
        """Return the changes after the one numbered seq, oldest first."""
        ...

    def event_range(self) -> tuple[int, int]:
        """Return the numbers of the oldest and the latest change kept ((0, 0) when there is none)."""
        ...

    def forget_events(self, keep: int) -> None:
        """Drop all but the latest `keep` changes; a page that was away longer reloads its lists."""
        ...


class NotificationStore(Protocol):
    """Webhook notifications about requests (new, reminded, escalated): delivered, retried or given up on,
    never dropped unseen; at most one of each kind per request."""

    def due_notifications(self, limit: int) -> list[DueNotification]:
        """Return the notifications to send now, with their request, the longest due first; a reminder or an
        escalation whose request is being decided is left out until the decision ends or falls through."""
        ...

    def notification_sent(self, request_id: str, kind: NotificationKind = "new") -> None:
        """Record that the request's notification of this kind was delivered."""
        ...

    def notification_failed(
        self, request_id: str, error: str, retry_in_seconds: float | None, kind: NotificationKind = "new"
    ) -> None:
        """Record a failed attempt: try again after retry_in_seconds, or give up when that is None."""
        ...

    def notification_counts(self) -> NotificationCounts:
        """Return how many notifications were delivered, failed for good, or still wait."""
        ...

    def due_follow_ups(self, limit: int) -> list[FollowUp]:
        """Return the reminders and escalations whose time (NewRequest.remind_at, escalate_at) has come and that
        were not taken yet, the longest due first; none whose request is being decided (they would crowd out the
        pending ones), and one whose request ended may be among them until take_follow_up has declined it once."""
        ...

    def take_follow_up(self, request_id: str, kind: FollowUpKind, notify: bool) -> bool:
        """Mark the request reminded (or escalated) if it is still pending and was not yet, in one atomic step with,
        when notify, its notification queued, and for an escalation its change event; True if this call took it,
        so that each is taken at most once per request whichever controller asks."""
        ...

    def withdraw_notification(self, request_id: str, kind: NotificationKind) -> None:
        """Forget a notification not delivered yet, whose request ended before it could be sent."""
        ...

    def claim_notification(self, request_id: str, kind: NotificationKind, seconds: float) -> bool:
        """Put a due notification's next attempt off by seconds, for the caller to send it meanwhile; True if this
        call did, False if it is not due (another sender claimed it first, or it was delivered, given up on or
        withdrawn). A sender that dies before it records the outcome leaves it due again once that time is up."""
        ...


class UserStore(Protocol):
    """The people who may sign in, their page sessions, and the attempts that lock a name or an address out.

    A user's name is unique whatever its case or Unicode form: two names with the same text.name_key
    are one name, and every lookup by name goes by that key.
    """

    def has_users(self) -> bool:
        """Return whether any user exists, which switches sign-in on."""
        ...

    def sign_in_state(self) -> SignInState:
        """Return whether sign-in is on, closed with no user left, or open to local mode, in one read (every
        request without credentials asks)."""
        ...

    def reopen(self) -> bool:
        """Return the store to local mode on purpose (`users local-mode`); False, changing nothing, while a user
        exists."""
        ...

    def users(self) -> list[User]:
        """Return every user, by name."""
        ...

    def user(self, name: str) -> User | None:
        """Return the user with this name in any case or form, or None."""
        ...

    def add_user(self, name: str, role: str, password_hash: str, token_hash: str, groups: Sequence[str] = ()) -> bool:
        """Add a user, in these groups, which closes the store to local mode (see sign_in_state); False if the name
        is taken in any case or form."""
        ...

    def set_groups(self, name: str, groups: Sequence[str]) -> bool:
        """Make these the user's groups (none: no group); False if there is no such user."""
        ...

    def remove_user(self, name: str) -> bool:
        """Remove a user and end every session of theirs at once; False if there was none of that name."""
        ...

    def replace_token(self, name: str, token_hash: str) -> bool:
        """Give a user a new token hash (the old token stops working) and end every session of theirs at once;
        False if there is no such user."""
        ...

    def replace_password(self, name: str, password_hash: str) -> bool:
        """Give a user a new password hash and end every session of theirs at once; False if there is no such
        user."""
        ...

    def start_session(self, secret_hash: str, name: str, lifetime_seconds: float, password_hash: str) -> bool:
        """Record a page session of a user by the hash of its secret, valid for lifetime_seconds unless ended,
        only while the user's password is still the one checked (password_hash); False, and nothing recorded,
        once it was changed or the user removed: a sign-in that straddles a new password must not outlive it."""
        ...

    def session_user(self, secret_hash: str) -> User | None:
        """Return the user of a session still running, or None (ended, expired, its user removed, or unknown)."""
        ...

    def end_sessions(self, name: str) -> None:
        """End every session of a user (and forget expired ones)."""
        ...

    def locked_until(self, keys: list[str]) -> str | None:
        """Return the latest end of a lockout still running on any of these keys, or None."""
        ...

    def take_attempt(self, keys: list[str], max_attempts: int, lockout_seconds: float) -> str | None:
        """Count an attempt to sign in against each key (a name, an address) before its secret is checked, at
        once for all parallel attempts; return None when it may go on, else the end of the lockout that refuses
        it: one already running, or the one it starts as the (max_attempts + 1)-th attempt in a row on a key."""
        ...

    def forgive_attempt(self, name_key: str, address_key: str) -> None:
        """After a successful sign-in: clear the name's count, and take back only this attempt from the
        address's, so that signing in between guesses gains no attempts."""
        ...


class AuditStore(Protocol):
    """The audit trail: every attempt to decide, taken or refused."""

    def record_attempt(self, attempt: AuditAttempt) -> None:
        """Record an attempt to decide, numbered and timed now."""
        ...

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        """Return the recorded attempts to decide a request, oldest first."""
        ...


class InvalidMessageStore(Protocol):
    """Queue messages that are not approval requests; they stay on the queue for its dead-letter queue."""

    def set_aside(self, message_id: str, reason: str, receive_count: int) -> None:
        """Record such a message, or its latest receive (never its body: it may hold a token)."""
        ...

    def invalid_messages(self, limit: int) -> list[SetAsideMessage]:
        """Return the messages set aside most recently, latest first."""
        ...


class QueryStore(Protocol):
    """Finding requests among many: the page's search, filters, sorts and pages, and the history."""

    def find_requests(self, query: RequestQuery, limit: int, offset: int = 0) -> list[ApprovalRequest]:
        """Return one page of the requests the query matches, in its order (ties broken by id)."""
        ...

    def count_requests(self, query: RequestQuery) -> int:
        """Return how many requests the query matches."""
        ...

    def iter_requests(self, query: RequestQuery) -> Iterator[ApprovalRequest]:
        """Yield every request the query matches, in its order, without holding them all at once; the store
        stays open until the iteration ends."""
        ...


class InsightStore(Protocol):
    """Aggregates of the requests for /metrics and the insights: counted over the whole store, so that every
    controller of one store reports the same."""

    def pending_summary(self) -> PendingSummary:
        """Return how many requests are pending, the oldest one's request time and the soonest expiry."""
        ...

    def pending_by_rule(self) -> dict[str | None, PendingSummary]:
        """Return the pending summary of each approval rule's requests, by the rule's name (None: stored
        without a rule); a rule with nothing pending is absent."""
        ...

    def ended_counts(self) -> dict[str, int]:
        """Return how many requests ended in each of states.ENDED, every one of them present (0 when none)."""
        ...

    def decision_times(self, bounds: tuple[float, ...]) -> DecisionTimes:
        """Return the time from storing to deciding of approved and rejected requests, binned at bounds (seconds,
        ascending)."""
        ...

    def decision_quantiles(self, since: str, quantiles: tuple[float, ...]) -> tuple[float | None, ...]:
        """Return, for each quantile (0 < q <= 1), the time from storing to deciding that q of the approvals and
        rejections decided since then took at most (nearest rank); None for each when there were none."""
        ...

    def ended_per_day(self, since: str) -> list[DailyOutcomes]:
        """Return how many requests ended on each UTC day since then, oldest day first, days without any left out.
        A request ends when it is decided, when its approval timeout passes, or (closed) when it was last checked."""
        ...


class LeaseStore(Protocol):
    """Leases on pieces of work that any controller could do (an upkeep job on one request, one notification's
    delivery), so that one controller does each at a time: a lease has an owner and an end, and a lease that
    ended (its owner died or took too long) can be taken over by another owner."""

    def take_lease(self, work: str, owner: str, seconds: float) -> Lease:
        """Hold the lease on a piece of work for owner until seconds from now, if it was free, had ended or was
        owner's already (then it is extended). Return the lease as it now is: owner's, or that of the other owner
        who holds it, with its end, before which asking again would be refused."""
        ...

    def drop_lease(self, work: str, owner: str) -> None:
        """Give back owner's lease once the work is done, so that another may take it at once; nothing if owner no
        longer holds it (it ended and was taken over)."""
        ...


class HealthStore(Protocol):
    """Whether the store takes writes. A failure of the medium (a full disk) met by any unit of work raises
    StoreUnavailable there and is noted for all of them, until a write goes through again."""

    def probe(self) -> None:
        """Write once: StoreUnavailable if that fails, else a failure noted before is cleared."""
        ...

    def check_writable(self) -> None:
        """Raise StoreUnavailable unless the store takes writes; it writes only while a failure is noted."""
        ...

    def failure(self) -> str | None:
        """Return why the store last failed, or None once a write went through again."""
        ...


class Store(
    RequestStore,
    EventStore,
    NotificationStore,
    UserStore,
    AuditStore,
    InvalidMessageStore,
    QueryStore,
    InsightStore,
    LeaseStore,
    HealthStore,
    Protocol,
):
    """Everything the controller keeps, for one unit of work; close it when that work ends."""

    def close(self) -> None:
        """Release what the store holds for this unit of work (a connection); the data stays."""
        ...


class Backend(Protocol):
    """Where the controller's data lives: it brings its schema up to date and opens stores on it."""

    shared: bool  # whether several controllers may use it at once: their background work then takes leases

    def migrate(self) -> int:
        """Bring the schema up to date, all or nothing; return its version afterwards."""
        ...

    def open(self) -> Store:
        """Return a store for one unit of work; the caller closes it."""
        ...

    def health(self) -> Health:
        """Return whether the store last failed, shared by every store this backend opened."""
        ...

    def claim_serving(self) -> Serving:
        """Say that this process serves the store: AlreadyServed if it cannot be shared and another one does."""
        ...

    def describe(self) -> str:
        """Name the store for a person: which file, or which table."""
        ...


class Serving(Protocol):
    """Held while a controller serves its store, released by close() (or by the process ending)."""

    def close(self) -> None: ...
