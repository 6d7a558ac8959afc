"""`Directory`: accounts, their users and users' access keys, in the identity database."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from labelgate.server.identity.key_vault import KeyVault
from labelgate.server.identity.schema import AccessKey, Account, IdentityBase, User

PARTITION = "labelgate"
KEY_ID_PREFIX = "LGAK"
_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")


class IdentityError(ValueError):
    """A request the directory refuses: a bad or taken name, an unknown user (message says)."""


@dataclass(frozen=True)
class NewKey:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class KeyOwner:
    """An active access key with what authorization needs to know of its owner."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str
    admin: bool

    @property
    def user_arn(self) -> str:
        return user_arn(self.account_id, self.user_name)


def user_arn(account_id: str, user_name: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:user/{user_name}"


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'identity.db'}"


def _checked_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise IdentityError(f"{what} must be 1-64 characters of letters, digits and +=,.@_-")
    return name


class Directory:
    def __init__(self, url: str, vault: KeyVault) -> None:
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        IdentityBase.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._vault = vault

    def close(self) -> None:
        self.engine.dispose()

    # --- accounts, users, keys --------------------------------------------------------------

    def account_count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(Account)) or 0

    def create_account(self, name: str, admin_name: str = "admin") -> tuple[str, NewKey]:
        """A new account with an admin user and that user's access key."""
        _checked_name(name, "AccountName")
        with self._sessions.begin() as session:
            if session.scalar(select(Account).where(Account.name == name)) is not None:
                raise IdentityError(f"an account named {name!r} already exists")
            account = Account(id=self._free_account_id(session), name=name)
            session.add(account)
            session.flush()
            user = User(account_id=account.id, name=admin_name, admin=True)
            session.add(user)
            session.flush()
            key = self._new_key(session, user)
            return account.id, key

    def create_user(self, account_id: str, name: str, *, admin: bool = False) -> str:
        _checked_name(name, "UserName")
        try:
            with self._sessions.begin() as session:
                session.add(User(account_id=account_id, name=name, admin=admin))
        except IntegrityError:
            raise IdentityError(f"a user named {name!r} already exists") from None
        return user_arn(account_id, name)

    def create_access_key(self, account_id: str, user_name: str) -> NewKey:
        with self._sessions.begin() as session:
            return self._new_key(session, self._user(session, account_id, user_name))

    def set_key_active(self, account_id: str, access_key_id: str, active: bool) -> None:
        with self._sessions.begin() as session:
            key = self._owned_key(session, account_id, access_key_id)
            key.active = active

    def delete_access_key(self, account_id: str, access_key_id: str) -> None:
        with self._sessions.begin() as session:
            session.delete(self._owned_key(session, account_id, access_key_id))

    def find_key(self, access_key_id: str) -> KeyOwner | None:
        """The active key with this id and its owner; None when unknown or inactive."""
        with self._sessions() as session:
            row = session.execute(
                select(AccessKey, User).join(User, User.id == AccessKey.user_id)
                .where(AccessKey.id == access_key_id, AccessKey.active.is_(True))
            ).first()
            if row is None:
                return None
            key, user = row
            return KeyOwner(key.id, self._vault.open(key.secret, key.id), user.account_id,
                            user.name, user.admin)

    # --- helpers ------------------------------------------------------------------------------

    def _free_account_id(self, session: Session) -> str:
        while True:
            candidate = f"{secrets.randbelow(10**12):012d}"
            if candidate != "000000000000" and session.get(Account, candidate) is None:
                return candidate

    def _new_key(self, session: Session, user: User) -> NewKey:
        key_id = KEY_ID_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()
        secret = secrets.token_urlsafe(30)  # 40 characters, as AWS secrets are
        session.add(AccessKey(id=key_id, user_id=user.id, secret=self._vault.seal(secret, key_id)))
        return NewKey(key_id, secret)

    @staticmethod
    def _user(session: Session, account_id: str, name: str) -> User:
        user = session.scalar(select(User).where(User.account_id == account_id,
                                                 User.name == name))
        if user is None:
            raise IdentityError(f"no user named {name!r} in account {account_id}")
        return user

    @staticmethod
    def _owned_key(session: Session, account_id: str, access_key_id: str) -> AccessKey:
        key = session.scalar(select(AccessKey).join(User, User.id == AccessKey.user_id)
                             .where(AccessKey.id == access_key_id,
                                    User.account_id == account_id))
        if key is None:
            raise IdentityError(f"no access key {access_key_id} in account {account_id}")
        return key


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


__all__ = ["Directory", "IdentityError", "KeyOwner", "NewKey", "default_url", "user_arn"]
