"""The approval policy (CONTROLLER_POLICY_FILE): which rule applies to an order, and who may decide it.

A policy file is YAML, checked against policy.schema.json and a few rules a schema cannot say
(unique names, a last rule that matches everything). When a request is stored, the rule that
applies is fixed as an AppliedRule and recorded with it, so a later change of the file never
moves a request already waiting. Without a policy file no rule is recorded, and any approver
decides a request alone, as before policies existed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import unicodedata
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TypedDict, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from controller.core.config import ConfigurationError
from controller.core.jsontypes import JSON

SCHEMA = json.loads(resources.files(__package__).joinpath("policy.schema.json").read_text())
GROUP_NAME = re.compile(SCHEMA["$defs"]["name"]["pattern"])  # a group, as users and rules name it
DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
MAX_ERRORS_SHOWN = 5


class PolicyError(ConfigurationError):
    """The policy file cannot be used: the message names the rule and the field at fault."""


def duration(text: str) -> timedelta:
    """Return the length of a duration such as 90s, 4h or 1h30m (the schema has checked its shape)."""
    match = DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def spelled(length: timedelta) -> str:
    """Return a duration as a policy file writes it: 4h, 1h30m, 90s."""
    seconds, parts = int(length.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _amount(order: Mapping[str, JSON], key: str) -> Decimal | None:
    value = order.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class Conditions:
    """A rule's `when`: every condition given must hold; none given matches every order."""

    total_at_least: Decimal | None = None
    total_below: Decimal | None = None
    currency_in: tuple[str, ...] = ()
    sku_matches: tuple[str, ...] = ()
    customer_in: tuple[str, ...] = ()

    def hold_for(self, order: Mapping[str, JSON]) -> bool:
        """Return whether the order meets every condition; one about a field the order lacks does not hold."""
        total = _amount(order, "total")
        if self.total_at_least is not None and (total is None or total < self.total_at_least):
            return False
        if self.total_below is not None and (total is None or total >= self.total_below):
            return False
        if self.currency_in and order.get("currency") not in self.currency_in:
            return False
        items = order.get("items")
        if self.sku_matches and not any(
            isinstance(item, dict) and isinstance(sku := item.get("sku"), str) and self._sku_matches(sku)
            for item in (items if isinstance(items, list) else [])
        ):
            return False
        customer = order.get("customer")
        return not self.customer_in or (isinstance(customer, dict) and customer.get("id") in self.customer_in)

    def _sku_matches(self, sku: str) -> bool:
        return any(fnmatch.fnmatchcase(sku, pattern) for pattern in self.sku_matches)

    def is_empty(self) -> bool:
        """Return whether this matches every order."""
        return self == Conditions()


@dataclass(frozen=True)
class Rule:
    """One entry of `rules`: which orders it covers, how many distinct people approve, and who may."""

    name: str
    when: Conditions = field(default_factory=Conditions)
    approvals: int = 1
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class Escalation:
    """After this long pending, members of these groups may decide too, and are told."""

    after: timedelta
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AppliedRule:
    """The rule a stored request is decided under, with the policy's settings and times fixed for it."""

    name: str
    approvals: int
    groups: tuple[str, ...]  # empty, with users empty too: any approver
    users: tuple[str, ...]
    self_approval: bool
    require_reject_reason: bool
    remind_at: datetime | None = None
    escalate_at: datetime | None = None
    escalation_groups: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Return the rule as recorded with the request."""
        record = asdict(self)
        for key in ("remind_at", "escalate_at"):
            record[key] = record[key] and record[key].isoformat(timespec="milliseconds")
        return json.dumps(record)

    @classmethod
    def from_json(cls, text: str) -> AppliedRule:
        """Read a rule recorded by to_json."""
        record = json.loads(text)
        for key in ("groups", "users", "escalation_groups"):
            record[key] = tuple(record[key])
        for key in ("remind_at", "escalate_at"):
            record[key] = record[key] and datetime.fromisoformat(record[key])
        return cls(**record)

    def escalated(self, at: datetime) -> bool:
        """Return whether the escalation groups may decide at this moment."""
        return self.escalate_at is not None and at >= self.escalate_at

    def deciders(self, at: datetime) -> str:
        """Return who may decide, in words: "members of finance", "any approver"."""
        groups = self.groups + (self.escalation_groups if self.escalated(at) else ())
        if not groups and not self.users:
            return "any approver"
        named = ([f"members of {', '.join(groups)}"] if groups else []) + list(self.users)
        return " or ".join(named)

    def summary(self, at: datetime) -> str:
        """Return the rule as the page shows it: "large orders: 2 of members of finance"."""
        return f"{self.name}: {self.approvals} of {self.deciders(at)}"

    def refusal(self, name: str, groups: Sequence[str], requested_by: JSON, at: datetime) -> str | None:
        """Return why this user may not decide the request at this moment, or None if they may."""
        if not self.self_approval and isinstance(requested_by, str) and same_name(requested_by, name):
            return f"{name} requested this order, and rule '{self.name}' needs someone else to decide it."
        if not self.groups and not self.users:
            return None
        allowed = set(self.groups) | (set(self.escalation_groups) if self.escalated(at) else set())
        if name in self.users or allowed & set(groups):
            return None
        theirs = f"in {', '.join(sorted(groups))}" if groups else "in no group"
        return f"Under rule '{self.name}' only {self.deciders(at)} may decide; {name} is {theirs}."


def same_name(written: str, name: str) -> bool:
    """Return whether a name an order gives (free text) is this user's, whatever its case or width."""
    return unicodedata.normalize("NFKC", written).casefold() == unicodedata.normalize("NFKC", name).casefold()


@dataclass(frozen=True)
class Policy:
    """A checked policy file."""

    rules: tuple[Rule, ...]
    self_approval: bool = False
    require_reject_reason: bool = False
    remind_before: timedelta | None = None
    escalation: Escalation | None = None

    def rule_for(self, order: Mapping[str, JSON]) -> Rule:
        """Return the first rule whose conditions hold (the last rule holds for every order)."""
        return next(rule for rule in self.rules if rule.when.hold_for(order))

    def apply(self, order: Mapping[str, JSON], requested_at: datetime, expires_at: datetime) -> AppliedRule:
        """Return the rule for an order, with its reminder and escalation times (None when past expiry)."""
        rule = self.rule_for(order)
        remind_at = expires_at - self.remind_before if self.remind_before else None
        escalate_at = requested_at + self.escalation.after if self.escalation else None
        return AppliedRule(
            name=rule.name,
            approvals=rule.approvals,
            groups=rule.groups,
            users=rule.users,
            self_approval=self.self_approval,
            require_reject_reason=self.require_reject_reason,
            remind_at=remind_at if remind_at is not None and requested_at < remind_at else None,
            escalate_at=escalate_at if escalate_at is not None and escalate_at < expires_at else None,
            escalation_groups=self.escalation.groups if self.escalation else (),
        )


# --- reading and checking a policy file ----------------------------------------------------------


class WhenEntry(TypedDict, total=False):
    """A rule's `when` in the file, as the schema lets it be."""

    total_at_least: float
    total_below: float
    currency_in: list[str]
    sku_matches: str | list[str]
    customer_in: list[str]


class _RuleName(TypedDict):
    name: str


class RuleEntry(_RuleName, total=False):
    """One entry of the file's `rules`, as the schema lets it be."""

    when: WhenEntry
    approvals: int
    groups: list[str]
    users: list[str]


class RemindersEntry(TypedDict):
    before_expiry: str


class EscalationEntry(TypedDict):
    after: str
    groups: list[str]


class _Rules(TypedDict):
    rules: list[RuleEntry]


class PolicyDocument(_Rules, total=False):
    """A policy file's document once the schema has passed it."""

    self_approval: bool
    require_reject_reason: bool
    reminders: RemindersEntry
    escalation: EscalationEntry


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice, which plain YAML loaders settle silently by the last one."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Hashable, object]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            mark = node.value[index][0].start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice (line {mark.line + 1})", mark
            )
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _where(document: object, path: Iterable[str | int]) -> str:
    """Return "rule 2 ('large orders'), field when.total_at_least" for a path into the document."""
    steps = list(path)
    rules = document.get("rules") if isinstance(document, dict) else None
    if len(steps) >= 2 and steps[0] == "rules" and isinstance(steps[1], int) and isinstance(rules, list):
        rule = rules[steps[1]]
        name = rule.get("name") if isinstance(rule, dict) else None
        place = f"rule {steps[1] + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
        steps = steps[2:]
    else:
        place = "the policy"
    return place + (f", field {'.'.join(str(step) for step in steps)}" if steps else "")


def _schema_message(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}  # the subschema that failed
    known: Mapping[str, object] = schema.get("properties", {})
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        extra = sorted(set(error.instance) - set(known))
        return f"unknown field(s) {', '.join(extra)}; known: {', '.join(known)}"
    if error.validator == "pattern" and schema.get("description"):
        return f"{error.instance!r} is not allowed: {schema['description']}"
    return error.message


def _schema_errors(document: object) -> list[str]:
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{_where(document, error.absolute_path)}: {_schema_message(error)}" for error in errors]


def _rule_errors(rules: list[RuleEntry]) -> list[str]:
    """Return what the schema cannot see: repeated names, rules never reached, conditions that never hold."""
    errors: list[str] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        where = f"rule {index + 1} ({rule['name']!r})"
        if rule["name"] in seen:
            errors.append(f"{where}, field name: rule {seen[rule['name']] + 1} has this name already")
        seen.setdefault(rule["name"], index)
        when = rule.get("when", WhenEntry())
        if "total_at_least" in when and "total_below" in when and when["total_at_least"] >= when["total_below"]:
            errors.append(f"{where}, field when: total_at_least must be below total_below, or no order matches")
        if "when" not in rule and index < len(rules) - 1:
            errors.append(f"{where}, field when: without one it matches every order, so the rules after it never apply")
    if "when" in rules[-1]:
        where = f"rule {len(rules)} ({rules[-1]['name']!r})"
        errors.append(f"{where}, field when: the last rule must have none, so that every order has a rule")
    return errors


def _duration_errors(document: PolicyDocument) -> list[str]:
    given = {}
    if "reminders" in document:
        given["reminders.before_expiry"] = document["reminders"]["before_expiry"]
    if "escalation" in document:
        given["escalation.after"] = document["escalation"]["after"]
    return [
        f"the policy, field {name}: must be longer than 0"
        for name, text in given.items()
        if duration(text) <= timedelta(0)
    ]


def _rule(entry: RuleEntry) -> Rule:
    when = entry.get("when", WhenEntry())
    patterns = when.get("sku_matches", ())
    return Rule(
        name=entry["name"],
        when=Conditions(
            total_at_least=Decimal(str(when["total_at_least"])) if "total_at_least" in when else None,
            total_below=Decimal(str(when["total_below"])) if "total_below" in when else None,
            currency_in=tuple(when.get("currency_in", ())),
            sku_matches=(patterns,) if isinstance(patterns, str) else tuple(patterns),
            customer_in=tuple(when.get("customer_in", ())),
        ),
        approvals=entry.get("approvals", 1),
        groups=tuple(entry.get("groups", ())),
        users=tuple(entry.get("users", ())),
    )


def parse(document: object) -> Policy:
    """Return the policy a loaded YAML document describes; PolicyError naming each rule and field at fault."""
    errors = _schema_errors(document)
    checked = cast(PolicyDocument, document)  # its shape, once the schema has found no error
    if not errors:
        errors = _rule_errors(checked["rules"]) + _duration_errors(checked)
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown = errors[:MAX_ERRORS_SHOWN] + ([f"and {more} more"] if more > 0 else [])
        raise PolicyError("; ".join(shown) + ".")
    escalation = checked.get("escalation")
    return Policy(
        rules=tuple(_rule(entry) for entry in checked["rules"]),
        self_approval=checked.get("self_approval", False),
        require_reject_reason=checked.get("require_reject_reason", False),
        remind_before=duration(checked["reminders"]["before_expiry"]) if "reminders" in checked else None,
        escalation=Escalation(duration(escalation["after"]), tuple(escalation["groups"])) if escalation else None,
    )


def load(path: str) -> Policy:
    """Read and check a policy file; PolicyError (a ConfigurationError) says what is wrong and where."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader, with one check added
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"Policy file {path} cannot be read: {error}.") from None
    except yaml.YAMLError as error:
        raise PolicyError(f"Policy file {path} is not valid YAML: {error}".replace("\n", " ")) from None
    try:
        return parse(document)
    except PolicyError as error:
        raise PolicyError(f"Policy file {path}: {error}") from None
