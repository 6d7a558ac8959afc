"""TEST SHIM, not moto as shipped: `moto_server` whose GetBucketAcl names each bucket's
real owner. Run as a script with moto_server's arguments (tests/fixtures_s3.py does).

Why it exists: moto 5.2.5 keeps buckets per account (the account comes from the request's
credentials or its `x-moto-account-id` header, and ListBuckets lists only the caller's
account), but its GetBucketAcl answers every bucket of every account with one hard-coded
`Owner.ID` (`75aa57f0...`, `S3Response._acl_to_dict`), ignores the Owner of PutBucketAcl
and implements no `ExpectedBucketOwner`. So no request to plain moto can show two buckets
with different owners, which is what `ERROR_INVALID_IMAGES_S3_BUCKET_OWNER` (training.md §2.4
#4) is about. Real S3 answers GetBucketAcl with the canonical user id of the bucket
owner's account.

What it changes: that one handler. `Owner.ID` (and the owner's own grant) becomes a
canonical-user-like id derived from the account that created the bucket (64 hex digits,
like S3's). Everything else, the HTTP server, routing, accounts, IAM, is moto unmodified;
tests/e2e/test_s3_permissions.py checks that plain moto still hard-codes the owner, so the
shim is dropped once moto stops doing so.
"""

from __future__ import annotations

import hashlib
from typing import Any

from moto.core.responses import ActionResult
from moto.s3.models import OWNER
from moto.s3.responses import S3Response


def canonical_user_id(account_id: str) -> str:
    """A stable stand-in for the canonical user id S3 gives an account."""
    return hashlib.sha256(f"canonical-user/{account_id}".encode()).hexdigest()


def _get_bucket_acl(self: S3Response) -> Any:
    bucket = self.backend.get_bucket(self.bucket_name)
    owner = canonical_user_id(bucket.account_id)
    acl = self._acl_to_dict(self.backend.get_bucket_acl(self.bucket_name))
    acl["Owner"] = {"ID": owner, "DisplayName": f"account-{bucket.account_id}"}
    for grant in acl["Grants"]:
        if grant["Grantee"].get("ID") == OWNER:
            grant["Grantee"]["ID"] = owner
    self.data["Action"] = "GetBucketAcl"
    return self.serialized(ActionResult(acl))


def main() -> None:
    S3Response.get_bucket_acl = _get_bucket_acl  # type: ignore[method-assign]
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
