"""python -m controller users ...: add, list and remove the people who may sign in, set their groups, issue tokens.

Adding the first user switches sign-in on for a running controller; it reads the users table on
every request. A token is shown once, alone on the last line of stdout, and only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing

from controller.access import credentials
from controller.approval import policy
from controller.core import text
from controller.core.config import ConfigurationError, settings
from controller.storage.backends import backend_for
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


def read_password(name: str) -> str:
    """Return the password typed twice on the terminal, or the first line of stdin when it is not a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"Password for {name}: ")
    if getpass.getpass("Again: ") != password:
        raise ConfigurationError("The two passwords differ; nothing was changed.")
    return password


def check_name(name: str) -> None:
    """Refuse a name that could not be shown faithfully as the approver."""
    if not name.strip() or name != name.strip() or len(name) > NAME_LIMIT or text.has_hidden(name):
        raise ConfigurationError(
            f"A user name is 1 to {NAME_LIMIT} characters, without surrounding spaces or control characters."
        )


def check_groups(groups: list[str]) -> None:
    """Refuse a group name an approval rule could not name."""
    for group in groups:
        if not policy.GROUP_NAME.fullmatch(group):
            raise ConfigurationError(
                f"{group!r} is not a group name: 1 to 64 letters, digits, and . _ @ - (not first)."
            )


def _add(store: Store, name: str, role: str, groups: list[str]) -> str:
    check_name(name)
    check_groups(groups)
    if store.user(name) is not None:
        raise ConfigurationError(f"There is already a user {name}; `users token {name}` issues a new token.")
    password = read_password(name)
    if len(password) < credentials.MIN_PASSWORD_LENGTH:
        raise ConfigurationError(f"The password must be at least {credentials.MIN_PASSWORD_LENGTH} characters.")
    token = credentials.new_token()
    store.add_user(name, role, credentials.hash_password(password), credentials.hash_token(token), groups)
    member = f", in {', '.join(sorted(set(groups)))}" if groups else ""
    print(f"Added {name} as {role}{member}. Sign-in is now required. Their API token (shown once):")
    return token


def _token(store: Store, name: str) -> str:
    token = credentials.new_token()
    if not store.replace_token(name, credentials.hash_token(token)):
        raise ConfigurationError(f"There is no user {name}.")
    print(f"New API token for {name}; the previous one no longer works:")
    return token


def _run(store: Store, args: argparse.Namespace) -> None:
    if args.action == "add":
        print(_add(store, args.name, args.role, args.group), flush=True)
    elif args.action == "groups":
        check_groups(args.groups)
        if not store.set_groups(args.name, args.groups):
            raise ConfigurationError(f"There is no user {args.name}.")
        print(f"{args.name} is in {', '.join(sorted(set(args.groups))) or 'no group'}.")
    elif args.action == "token":
        print(_token(store, args.name), flush=True)
    elif args.action == "remove":
        if not store.remove_user(args.name):
            raise ConfigurationError(f"There is no user {args.name}.")
        left = len(store.users())
        print(f"Removed {args.name}." + ("" if left else " No users are left: the controller is in local mode."))
    else:
        for user in store.users():
            print(f"{user.name}\t{user.role}\t{','.join(user.groups) or '-'}\tadded {user.created_at}")


def run(args: argparse.Namespace) -> int:
    """Run a users subcommand on the configured database; return the exit status."""
    try:
        backend = backend_for(settings())
        backend.migrate()
        with closing(backend.open()) as store:
            _run(store, args)
    except ConfigurationError as error:
        print(f"controller users: {error}", file=sys.stderr)
        return 1
    return 0
