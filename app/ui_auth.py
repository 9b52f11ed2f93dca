"""Who may use the chat UI, and what they may do: users and roles from a settings file.

On 127.0.0.1 with no users file the UI is open, as before: whoever can reach the machine's
loopback address is its user and may add, edit and remove documents. Bound to any other
address, `lantern ui` refuses to start without a users file (`ui_users`), and then everyone
signs in (so does everyone on 127.0.0.1 once a users file is set):

    # users.toml
    [users.amira]
    role = "editor"        # asks, and adds, edits and removes documents
    password = "pbkdf2_sha256$600000$...$..."   # from: python -m app.ui_auth

    [users.jules]
    role = "reader"        # asks
    password = "pbkdf2_sha256$600000$...$..."

Passwords are stored only as PBKDF2-SHA256 hashes: `python -m app.ui_auth` reads one and
prints its hash. A bad file is one error line naming the file and the problem.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import ipaddress
import secrets
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import SettingsError

ROLES = ("reader", "editor")
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
SCHEME = "pbkdf2_sha256"
ANONYMOUS = None  # the user of an open (loopback, no users file) UI


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """'pbkdf2_sha256$ITERATIONS$SALT$HASH' (salt and hash base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` string (constant time)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1 and localhost: reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password: str  # the hash

    @property
    def editor(self) -> bool:
        return self.role == "editor"


class Users:
    """The users file, read once at start-up."""

    def __init__(self, users: dict[str, User], path: Path | None = None):
        self.users = users
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> Users:
        """Read a users file; SettingsError (one line, naming the file) when it is unusable."""
        path = Path(path)
        where = f"users file {path}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{where} does not exist (set ui_users to a TOML file of [users.NAME] tables)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{where} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{where} is not valid TOML: {exc}") from None
        table = data.get("users")
        if not isinstance(table, dict) or not table:
            raise SettingsError(f"{where} lists no users: add [users.NAME] tables with role and password")
        users: dict[str, User] = {}
        for name, entry in table.items():
            if not isinstance(entry, dict):
                raise SettingsError(f"{where}: users.{name} must be a table with role and password")
            role = str(entry.get("role", "")).strip().lower()
            if role not in ROLES:
                raise SettingsError(f"{where}: user {name!r} has role {entry.get('role')!r} (use reader or editor)")
            password = str(entry.get("password", ""))
            if not password.startswith(f"{SCHEME}$") or password.count("$") != 3:
                raise SettingsError(f"{where}: user {name!r} needs a password hash from `python -m app.ui_auth` "
                                    f"(starting {SCHEME}$), not a plain password")
            users[name] = User(name, role, password)
        return cls(users, path)

    def check(self, username: str, password: str) -> bool:
        """Gradio's sign-in check."""
        user = self.users.get(username)
        if user is None:
            check_password(password, hash_password("x", 1000))  # similar work for unknown names
            return False
        return check_password(password, user.password)

    def role(self, username: str | None) -> str | None:
        user = self.users.get(username or "")
        return user.role if user else None


def main() -> int:
    """`python -m app.ui_auth`: read a password (twice) and print its hash for a users file."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            print("The two passwords differ.", file=sys.stderr)
            return 1
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("Use at least 8 characters.", file=sys.stderr)
        return 1
    print(hash_password(first))
    return 0


if __name__ == "__main__":
    sys.exit(main())
