"""The identity directory, its key vault and the client's credential lookup, without a
gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.client._credentials import CredentialsError, find_credentials
from labelgate.server.identity.directory import Directory, IdentityError, default_url
from labelgate.server.identity.key_vault import (
    KeyVault,
    VaultError,
    load_or_create_master_key,
)


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    vault = KeyVault(load_or_create_master_key(tmp_path / "master.key"))
    made = Directory(default_url(tmp_path), vault)
    yield made
    made.close()


def test_accounts_users_and_keys(directory: Directory):
    account, admin_key = directory.create_account("team-a")
    assert len(account) == 12 and account.isdigit()
    owner = directory.find_key(admin_key.access_key_id)
    assert owner is not None and owner.admin and owner.account_id == account
    assert owner.secret_access_key == admin_key.secret_access_key
    arn = directory.create_user(account, "alice")
    assert arn == f"arn:labelgate:iam::{account}:user/alice"
    key = directory.create_access_key(account, "alice")
    alice = directory.find_key(key.access_key_id)
    assert alice is not None and not alice.admin and alice.user_arn == arn
    directory.set_key_active(account, key.access_key_id, False)
    assert directory.find_key(key.access_key_id) is None
    directory.set_key_active(account, key.access_key_id, True)
    directory.delete_access_key(account, key.access_key_id)
    assert directory.find_key(key.access_key_id) is None


def test_names_are_checked_and_unique(directory: Directory):
    account, _ = directory.create_account("team-a")
    with pytest.raises(IdentityError, match="already exists"):
        directory.create_account("team-a")
    directory.create_user(account, "bob")
    with pytest.raises(IdentityError, match="already exists"):
        directory.create_user(account, "bob")
    with pytest.raises(IdentityError, match="1-64 characters"):
        directory.create_user(account, "no spaces")
    with pytest.raises(IdentityError, match="no user"):
        directory.create_access_key(account, "nobody")


def test_a_key_of_another_account_cannot_be_managed(directory: Directory):
    _, key = directory.create_account("a")
    second, _ = directory.create_account("b")
    with pytest.raises(IdentityError):
        directory.set_key_active(second, key.access_key_id, False)
    assert directory.find_key(key.access_key_id) is not None


def test_sealed_secrets_need_the_master_key_and_their_key_id(tmp_path: Path):
    vault = KeyVault(load_or_create_master_key(tmp_path / "one.key"))
    sealed = vault.seal("s3cr3t", "LGAKONE")
    assert vault.open(sealed, "LGAKONE") == "s3cr3t"
    with pytest.raises(VaultError):
        vault.open(sealed, "LGAKTWO")  # moved to another key's row
    other = KeyVault(load_or_create_master_key(tmp_path / "two.key"))
    with pytest.raises(VaultError):
        other.open(sealed, "LGAKONE")
    assert load_or_create_master_key(tmp_path / "one.key") == \
        load_or_create_master_key(tmp_path / "one.key")


def test_credentials_are_found_as_boto3_finds_them(tmp_path: Path):
    path = tmp_path / "credentials"
    path.write_text("[default]\naws_access_key_id = D\naws_secret_access_key = d\n"
                    "[team]\naws_access_key_id = T\naws_secret_access_key = t\n")
    shared = {"AWS_SHARED_CREDENTIALS_FILE": str(path)}
    assert find_credentials({**shared, "AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "e"}
                            ).access_key_id == "E"
    assert find_credentials(shared).access_key_id == "D"
    assert find_credentials({**shared, "AWS_PROFILE": "team"}).secret_access_key == "t"
    with pytest.raises(CredentialsError, match="not in"):
        find_credentials({**shared, "AWS_PROFILE": "missing"})
    assert find_credentials({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}) is None
    path.write_text("[default]\naws_access_key_id = K\naws_secret_access_key = hidden\n")
    assert "hidden" not in repr(find_credentials(shared))
