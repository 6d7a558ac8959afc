"""First start: on an empty directory, the first account and its admin key.

The key is written to `<data-dir>/root-credentials` (mode 0600) in the AWS
shared-credentials format, so the same file serves the `labelgate` CLI, the Python client
and unmodified boto3 (`AWS_SHARED_CREDENTIALS_FILE=<data-dir>/root-credentials`). The
gateway never prints the secret; the file is the one place it is shown.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from labelgate.server.identity.directory import Directory, IdentityError, NewKey

ROOT_CREDENTIALS = "root-credentials"
FIRST_ACCOUNT = "root"

log = logging.getLogger("labelgate.server")


def write_credentials(path: Path, key: NewKey, account_id: str) -> None:
    text = (f"# labelgate: the admin of account {account_id} ({FIRST_ACCOUNT}).\n"
            "[default]\n"
            f"aws_access_key_id = {key.access_key_id}\n"
            f"aws_secret_access_key = {key.secret_access_key}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)  # also when the file was there with wider modes


def ensure_first_account(directory: Directory, data_dir: Path) -> Path | None:
    """Create the first account when there is none; the credentials file, if written."""
    if directory.account_count():
        return None
    try:
        account_id, key = directory.create_account(FIRST_ACCOUNT)
    except IdentityError:
        return None  # another gateway on the same directory made it first
    path = data_dir / ROOT_CREDENTIALS
    write_credentials(path, key, account_id)
    log.warning("created the first account %s; its admin access key is in %s",
                account_id, path)
    return path


__all__ = ["ROOT_CREDENTIALS", "ensure_first_account", "write_credentials"]
