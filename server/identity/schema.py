"""The identity tables. Secrets are stored encrypted (key_vault.py), never in clear."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdentityBase(DeclarativeBase):
    pass


class Account(IdentityBase):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)  # 12 digits, in every ARN
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(IdentityBase):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    #: An account admin may do anything in the account (policies do not limit it).
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessKey(IdentityBase):
    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the access key id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + AES-GCM ciphertext
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
