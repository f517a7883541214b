"""python -m controller users ...: add, list and remove the people who may sign in, set their groups and
passwords, issue tokens.

Adding the first user switches sign-in on for a running controller; it reads the users table on
every request. Removing the last one does not switch it off: the controller refuses everyone until
a user is added, or until `users local-mode` returns it to local mode on purpose. A new token, a new
password or removing a user ends every page session of theirs. A token is shown once, alone on the
last line of stdout, and only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing

from controller.access import credentials
from controller.approval import policy
from controller.core import text
from controller.core.config import ConfigurationError, store_config
from controller.core.errors import StoreUnavailable
from controller.service.stores import backend_for
from controller.storage.interface import Store

ROLES = ("approver", "viewer")
NAME_LIMIT = 100  # the approver field's limit: the name is recorded as the approver


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `users` command and its subcommands to the main parser."""
    users = commands.add_parser("users", help="manage who may sign in (the database is CONTROLLER_DATABASE)")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user; reads the password from the terminal or one line of stdin")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--group", action="append", default=[], help="a group the user is in (repeatable)")
    groups = actions.add_parser("groups", help="set a user's groups (none given: no group)")
    groups.add_argument("name")
    groups.add_argument("groups", nargs="*")
    actions.add_parser("list", help="list the users, their roles and groups")
    actions.add_parser("remove", help="remove a user").add_argument("name")
    actions.add_parser("token", help="issue a new API token; the old one stops working").add_argument("name")
    actions.add_parser(
        "passwd", help="set a new password (terminal or one line of stdin); every page session of theirs ends"
    ).add_argument("name")
    actions.add_parser("local-mode", help="with no users left, serve without sign-in again (loopback only)")


def read_password(name: str) -> str:
    """Return the password typed twice on the terminal, or the first line of stdin when it is not a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"Password for {name}: ")
    if getpass.getpass("Again: ") != password:
        raise ConfigurationError("The two passwords differ; nothing was changed.")
    return password


def check_name(name: str) -> str:
    """Return the name as it is stored (NFKC); refuse one that could not be shown faithfully or could pass for
    another."""
    name = text.normalised_name(name)
    if not name.strip() or name != name.strip() or len(name) > NAME_LIMIT or text.has_hidden(name):
        raise ConfigurationError(
            f"A user name is 1 to {NAME_LIMIT} characters, without surrounding spaces or control characters."
        )
    problem = text.name_problem(name)
    if problem is not None:
        raise ConfigurationError(f"{name!r} is refused as a user name: {problem}.")
    return name


def check_groups(groups: list[str]) -> None:
    """Refuse a group name an approval rule could not name."""
    for group in groups:
        if not policy.GROUP_NAME.fullmatch(group):
            raise ConfigurationError(
                f"{group!r} is not a group name: 1 to 64 letters, digits, and . _ @ - (not first)."
            )


def _new_password(name: str) -> str:
    password = read_password(name)
    if len(password) < credentials.MIN_PASSWORD_LENGTH:
        raise ConfigurationError(f"The password must be at least {credentials.MIN_PASSWORD_LENGTH} characters.")
    return credentials.hash_password(password)


def _existing(store: Store, name: str) -> str:
    """Return the stored name of the user this name designates (whatever its case or form)."""
    user = store.user(name)
    if user is None:
        raise ConfigurationError(f"There is no user {name}.")
    return user.name


def _add(store: Store, name: str, role: str, groups: list[str]) -> str:
    name = check_name(name)
    check_groups(groups)
    taken = store.user(name)
    if taken is not None:
        raise ConfigurationError(
            f"There is already a user {taken.name} (names differing only in case or form are one name);"
            f" `users token {taken.name}` issues a new token."
        )
    password_hash, token = _new_password(name), credentials.new_token()
    if not store.add_user(name, role, password_hash, credentials.hash_token(token), groups):
        raise ConfigurationError(f"There is already a user {name}.")
    member = f", in {', '.join(sorted(set(groups)))}" if groups else ""
    print(f"Added {name} as {role}{member}. Sign-in is now required. Their API token (shown once):")
    return token


def _token(store: Store, name: str) -> str:
    name, token = _existing(store, name), credentials.new_token()
    if not store.replace_token(name, credentials.hash_token(token)):
        raise ConfigurationError(f"There is no user {name}.")
    print(f"New API token for {name}; the previous one no longer works, and their page sessions ended:")
    return token


def _passwd(store: Store, name: str) -> None:
    name = _existing(store, name)
    if not store.replace_password(name, _new_password(name)):
        raise ConfigurationError(f"There is no user {name}.")
    print(f"New password for {name}; every page session of theirs ended.")


def _remove(store: Store, name: str) -> None:
    name = _existing(store, name)
    if not store.remove_user(name):
        raise ConfigurationError(f"There is no user {name}.")
    left = store.has_users()
    print(
        f"Removed {name}; their page sessions ended."
        + (
            ""
            if left
            else " No users are left, and the controller refuses every request until one is added."
            " To serve without sign-in again on this machine only: python -m controller users local-mode"
        )
    )


def _local_mode(store: Store) -> None:
    if not store.reopen():
        raise ConfigurationError("Users exist: remove them all first (`users list` names them).")
    print(
        "Local mode: with no users, a controller that listens on loopback only, without CONTROLLER_ALLOWED_HOSTS"
        " or a trusted proxy, serves requests that come straight from this machine without sign-in."
    )


def _run(store: Store, args: argparse.Namespace) -> None:
    if args.action == "add":
        print(_add(store, args.name, args.role, args.group), flush=True)
    elif args.action == "groups":
        check_groups(args.groups)
        name = _existing(store, args.name)
        if not store.set_groups(name, args.groups):
            raise ConfigurationError(f"There is no user {name}.")
        print(f"{name} is in {', '.join(sorted(set(args.groups))) or 'no group'}.")
    elif args.action == "token":
        print(_token(store, args.name), flush=True)
    elif args.action == "passwd":
        _passwd(store, args.name)
    elif args.action == "remove":
        _remove(store, args.name)
    elif args.action == "local-mode":
        _local_mode(store)
    else:
        for user in store.users():
            print(f"{user.name}\t{user.role}\t{','.join(user.groups) or '-'}\tadded {user.created_at}")


def run(args: argparse.Namespace) -> int:
    """Run a users subcommand on the configured database; return the exit status."""
    try:
        backend = backend_for(store_config())
        backend.migrate()
        with closing(backend.open()) as store:
            _run(store, args)
    except (ConfigurationError, StoreUnavailable) as error:
        print(f"controller users: {error}", file=sys.stderr)
        return 1
    return 0
