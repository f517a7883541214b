"""Sign-in on the table: users by their name's key, sessions checked against their user's epoch, the
local-mode state, and attempts counted and locked out in conditional transactions (docs/shared-store.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from controller.storage import fields
from controller.storage.dynamodb.items import (
    LAST,
    SIGN_IN,
    UNLOCKED,
    attempts_key,
    epoch,
    key_of,
    plain,
    session_key,
    update_of,
    user_key,
    wire,
)
from controller.storage.dynamodb.layout import user_item
from controller.storage.dynamodb.table import Table
from controller.storage.records import SignInState, User, now, user_from

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef


class Users(Table):
    """The people who may sign in, their sessions, and the attempts that lock a name or an address out."""

    def has_users(self) -> bool:
        state = self._get(SIGN_IN)
        return state is not None and fields.number(state, "user_count", 0) > 0

    def sign_in_state(self) -> SignInState:
        state = self._get(SIGN_IN)
        if state is None:
            return "open"
        return "on" if fields.number(state, "user_count", 0) > 0 else "closed"

    def reopen(self) -> bool:
        return self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=wire(SIGN_IN),
                ConditionExpression="attribute_not_exists(user_count) OR user_count = :none",
                ExpressionAttributeValues=wire({":none": 0}),
            )
        )

    def users(self) -> list[User]:
        return sorted((user_from(item) for item in self._partition("users")), key=lambda user: user.name)

    def user(self, name: str) -> User | None:
        item = self._get(user_key(name))
        return user_from(item) if item else None

    def _count_users(self, by: int) -> TransactWriteItemTypeDef:
        """The transaction part that counts users in the sign-in state, which a user's arrival creates."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": wire(SIGN_IN),
                "UpdateExpression": "ADD user_count :by SET users_since = if_not_exists(users_since, :now)",
                "ExpressionAttributeValues": wire({":by": by, ":now": now()}),
            }
        }

    def add_user(self, name: str, role: str, password_hash: str, token_hash: str, groups: Sequence[str] = ()) -> bool:
        item = user_item(User(name, role, password_hash, token_hash, now(), tuple(groups)), uuid.uuid4().hex)
        put: TransactWriteItemTypeDef = {
            "Put": {"TableName": self.table, "Item": wire(item), "ConditionExpression": "attribute_not_exists(pk)"}
        }
        return self._transact(put, self._count_users(1)) is None

    def remove_user(self, name: str) -> bool:
        delete: TransactWriteItemTypeDef = {
            "Delete": {
                "TableName": self.table,
                "Key": wire(user_key(name)),
                # the user item under name's key must be of exactly that name
                "ConditionExpression": "#name = :name",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": wire({":name": name}),
            }
        }
        return self._transact(delete, self._count_users(-1)) is None  # its sessions lose their user with it

    def _change_user(self, name: str, values: Mapping[str, object]) -> bool:
        update = update_of(self.table, user_key(name), values, "#name = :name", {"#name": "name"}, name=name)
        return self._conditional(lambda: self.dynamodb.update_item(**update))

    def set_groups(self, name: str, groups: Sequence[str]) -> bool:
        return self._change_user(name, {"groups_json": json.dumps(sorted(set(groups)))})

    def replace_token(self, name: str, token_hash: str) -> bool:
        return self._change_user(name, {"token_hash": token_hash, "session_epoch": uuid.uuid4().hex})

    def replace_password(self, name: str, password_hash: str) -> bool:
        return self._change_user(name, {"password_hash": password_hash, "session_epoch": uuid.uuid4().hex})

    def start_session(self, secret_hash: str, name: str, lifetime_seconds: float, password_hash: str) -> bool:
        user = self._get(user_key(name))
        if user is None or (user["name"], user.get("password_hash")) != (name, password_hash):
            return False
        session_epoch = fields.text(user, "session_epoch")
        ends = now(lifetime_seconds)
        item = {
            **session_key(secret_hash),
            "name": name,
            "session_epoch": session_epoch,
            "created_at": now(),
            "expires_at": ends,
            "expires_at_epoch": epoch(ends),
            "list_key": "sessions",
            "list_order": f"{ends}#{secret_hash}",
        }
        # the user must still be as read: a new password, token or sign-out in between changed its epoch
        unchanged: TransactWriteItemTypeDef = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": wire(user_key(name)),
                "ConditionExpression": "session_epoch = :epoch AND password_hash = :hash",
                "ExpressionAttributeValues": wire({":epoch": session_epoch, ":hash": password_hash}),
            }
        }
        return self._transact({"Put": {"TableName": self.table, "Item": wire(item)}}, unchanged) is None

    def session_user(self, secret_hash: str) -> User | None:
        session = self._get(session_key(secret_hash))
        if session is None or fields.text(session, "expires_at") <= now():
            return None
        user = self._get(user_key(fields.text(session, "name")))
        if user is None or (user["name"], user["session_epoch"]) != (session["name"], session["session_epoch"]):
            return None  # ended: its user was removed, or changed their token or password, or signed out
        return user_from(user)

    def end_sessions(self, name: str) -> None:
        self._change_user(name, {"session_epoch": uuid.uuid4().hex})
        expired = self._list("sessions", upto=now() + LAST)  # everyone's, not left to TTL
        self._delete_all([key_of(item) for item in expired])

    def locked_until(self, keys: list[str]) -> str | None:
        stamp = now()
        ends = [fields.optional_text(found, "locked_until") for key in keys if (found := self._get(attempts_key(key)))]
        running = [end for end in ends if end and end > stamp]
        return max(running) if running else None

    def take_attempt(self, keys: list[str], max_attempts: int, lockout_seconds: float) -> str | None:
        # Each key's count moves only while it stays within max_attempts and the key is not locked, in one
        # transaction for all keys: parallel attempts on any controller are counted one by one, none slips past.
        while True:
            stamp = now()
            counts = [self._count_attempt(key, stamp, max_attempts) for key in keys]
            reasons = self._transact(*counts)
            if reasons is None:
                return None
            full = {
                key: plain(reason.get("Item", {}))
                for key, reason in zip(keys, reasons, strict=True)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            locked = [fields.optional_text(seen, "locked_until") for seen in full.values()]
            running = [until for until in locked if until and until > stamp]
            if running:
                return max(running)
            # this is the attempt past the limit on the keys that are full: it locks them and counts on the others
            ends = now(lockout_seconds)
            parts = [
                self._lock(key, full[key], stamp, ends) if key in full else c
                for key, c in zip(keys, counts, strict=True)
            ]
            if self._transact(*parts) is None:
                return ends
            # another attempt counted or locked first: take this one again from what the keys hold now

    def _count_attempt(self, key: str, stamp: str, max_attempts: int) -> TransactWriteItemTypeDef:
        within = "failures < :most" if max_attempts <= 0 else "attribute_not_exists(failures) OR failures < :most"
        update = self._on_attempts(
            key,
            "ADD failures :one SET last_failed_at = :now",
            within,
            {":one": 1, ":now": stamp, ":most": max_attempts},
        )
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Update": update}

    def _lock(self, key: str, seen: fields.Fields, stamp: str, ends: str) -> TransactWriteItemTypeDef:
        values: dict[str, object] = {":none": 0, ":ends": ends, ":now": stamp}
        unchanged = "attribute_not_exists(failures)"
        if "failures" in seen:
            unchanged, values[":seen"] = "failures = :seen", seen["failures"]
        expression = "SET failures = :none, locked_until = :ends, last_failed_at = :now"
        return {"Update": self._on_attempts(key, expression, unchanged, values)}

    def _on_attempts(self, key: str, expression: str, condition: str, values: Mapping[str, object]) -> UpdateTypeDef:
        """The update of a key's attempts while it is not locked and the condition holds."""
        return {
            "TableName": self.table,
            "Key": wire(attempts_key(key)),
            "UpdateExpression": expression,
            "ConditionExpression": f"({UNLOCKED}) AND ({condition})",
            "ExpressionAttributeValues": wire(values),
        }

    def forgive_attempt(self, name_key: str, address_key: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=wire(attempts_key(name_key)))
        self._conditional(
            lambda: self.dynamodb.update_item(
                TableName=self.table,
                Key=wire(attempts_key(address_key)),
                UpdateExpression="ADD failures :back",
                ConditionExpression="failures > :none",
                ExpressionAttributeValues=wire({":back": -1, ":none": 0}),
            )
        )
