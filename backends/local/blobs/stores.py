"""Blob storage behind AWS `S3Object{Bucket, Name}` references.

Two implementations of one small `BlobStore` protocol:

* `LocalBlobStore(root)`: object `Name` of bucket `Bucket` is the file `<root>/<Bucket>/<Name>`
  (root is `<data-dir>/s3`). Bucket names and keys are checked so nothing outside the root
  can be reached (`..`, absolute keys, empty path segments are refused).
* `S3BlobStore`: any S3-protocol endpoint through boto3 (AWS, MinIO, moto), path-style
  addressing so bucket names need no DNS.

The methods are synchronous (blocking I/O); async callers run them with `asyncio.to_thread`.
Every "cannot read this object" condition, from a missing bucket to a refused key, raises
`InvalidS3ObjectException` naming bucket and key, the error AWS returns for unreadable S3
objects. A refusal (S3 `AccessDenied` / HTTP 403, a local `PermissionError`) raises its
subclass `BlobAccessDenied`, so callers that care (the manifest file checks, the image
probe: training.md §2.3-§2.4 permission errors) can tell it from a missing object, and callers
that do not still see an `InvalidS3ObjectException`.

A store that cannot be reached at all (connection refused or dropped, a timeout, a 5xx
answer after boto3's retries) raises `BlobStoreUnavailable` instead, from any method and
from any read of an opened object. It is deliberately *not* an InvalidS3ObjectException:
an outage says nothing about the data, so the manifest and image checks must not turn it
into a data error. Jobs end with its message (dataset_jobs.py, training/service.py); a
synchronous call returns it as an InternalServerError.

Reading: `open()` returns a context manager, not a stream. The stream exists only inside
`with store.open(bucket, key) as stream:` and is closed when the block ends, so a body can
neither leak nor be read after its connection is gone. (The S3 stream is our own reader
over botocore's body: botocore's `StreamingBody.__enter__` hands out the bare urllib3
response, which closes itself at the end of the body, skips botocore's error translation
and length check, and broke `io.TextIOWrapper` with "I/O operation on closed file".)
`read()` is the helper for small objects read whole.

Bucket owners (training.md §2.4 `ERROR_INVALID_IMAGES_S3_BUCKET_OWNER`): `S3BlobStore` has
`bucket_owner(bucket)`, the canonical `Owner.ID` of GetBucketAcl. `LocalBlobStore` has no
owners (one directory tree, one owner), so it has no such method; `bucket_owner(store,
bucket)` below returns None for it and the owner check is skipped.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, Protocol

from pydantic import field_validator

from labelgate.backends.base import BackendSettings, settings_part
from labelgate.errors import InternalServerError, InvalidS3ObjectException

# S3's bucket naming rules, a little relaxed (upper case and `_` are accepted, as the API
# model's S3Bucket pattern `[0-9A-Za-z\.\-_]*` does); leading dots or `..` are never valid.
_BUCKET_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{2,254}$")
MAX_KEY_LENGTH = 1024
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class BlobInfo:
    """One listed object."""

    key: str
    size: int


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key/with/slashes` -> `("bucket", "key/with/slashes")`.

    ValueError unless the URI has the `s3://` scheme, a bucket and a non-empty key.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, sep, key = uri[len("s3://"):].partition("/")
    if not bucket or not sep or not key:
        raise ValueError(f"an s3:// URI needs a bucket and a key: {uri!r}")
    return bucket, key


class BlobAccessDenied(InvalidS3ObjectException):
    """The store refused access to the object or bucket (S3 `AccessDenied`/403, a local
    `PermissionError`): it may well exist, the caller may not read it."""


class BlobStoreUnavailable(InternalServerError):
    """The blob store could not be reached (or answered only with server errors): nothing is
    known about the object. Not an InvalidS3ObjectException on purpose (see the module
    docstring). The message is whole, fit for a StatusMessage: it names the store's
    endpoint, never a local path or the underlying exception's text."""


def _unreachable(endpoint: str, why: str, bucket: str, key: str) -> BlobStoreUnavailable:
    what = f"s3://{bucket}/{key}" if key else f"the bucket {bucket}"
    return BlobStoreUnavailable(f"The S3 store at {endpoint} was unreachable while accessing "
                                f"{what} ({why}). Try again when it is back.")


def _missing(bucket: str, key: str, why: str = "does not exist") -> InvalidS3ObjectException:
    return InvalidS3ObjectException(f"Unable to get object metadata from S3. "
                                    f"The object s3://{bucket}/{key} {why}.")


def _denied(bucket: str, key: str, why: str = "access denied") -> BlobAccessDenied:
    what = f"the object s3://{bucket}/{key}" if key else f"the bucket {bucket}"
    return BlobAccessDenied(f"Access to {what} was denied ({why}).")


class BlobStore(Protocol):
    """Objects addressed by (bucket, key), the way AWS's S3Object addresses them."""

    def open(self, bucket: str, key: str) -> AbstractContextManager[BinaryIO]:
        """The object for reading in chunks: `with store.open(bucket, key) as stream:`.
        A missing or refused object raises at once; the stream is closed when the block
        ends. Not a stream itself, so it cannot be read outside a `with` block."""
        ...

    def read(self, bucket: str, key: str) -> bytes:
        """The whole object (for small objects only)."""
        ...

    def put(self, bucket: str, key: str, data: bytes | BinaryIO) -> None:
        """Store `data` (bytes or a readable binary stream) as the object, replacing it."""
        ...

    def size(self, bucket: str, key: str) -> int:
        """The object's size in bytes (a HEAD request); InvalidS3ObjectException if absent."""
        ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]:
        """Objects whose key starts with `prefix`, in key order."""
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; deleting an absent object is not an error (as in S3)."""
        ...

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket when it does not exist yet."""
        ...


class OpenedBlob(AbstractContextManager[BinaryIO]):
    """What `BlobStore.open` returns: the object, already opened (so a missing object fails
    the `open` call), handed out by `__enter__` and closed by `__exit__`."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __enter__(self) -> BinaryIO:
        return self._stream

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stream.close()


class LocalBlobStore:
    """Buckets are directories under `root`; objects are files. Writes are atomic (a
    temporary file renamed into place), so a reader never sees half an object.

    A local directory has no bucket lifecycle of its own, so `put` creates the bucket
    directory on demand (S3BlobStore, like S3, needs the bucket to exist).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- addressing -------------------------------------------------------------------
    def _bucket_dir(self, bucket: str, key: str = "") -> Path:
        if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise InvalidS3ObjectException(f"Invalid S3 bucket name {bucket!r} (object {key!r}).")
        return self.root / bucket

    def _path(self, bucket: str, key: str) -> Path:
        base = self._bucket_dir(bucket, key)
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidS3ObjectException(f"Invalid S3 object key {key!r} in bucket {bucket}.")
        parts = key.split("/")
        # Keys map to file paths, so every segment must be a plain file or folder name.
        if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
            raise InvalidS3ObjectException(
                f"The S3 object key {key!r} in bucket {bucket} is not supported by the local "
                "blob store (empty, '.' or '..' path segments, backslashes and NUL are refused)."
            )
        path = base.joinpath(*parts)
        # Belt and braces against symlinks pointing out of the root.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidS3ObjectException(
                f"The S3 object s3://{bucket}/{key} is outside the store."
            )
        return path

    def _existing_file(self, bucket: str, key: str) -> Path:
        path = self._path(bucket, key)
        try:
            if not self._bucket_dir(bucket, key).is_dir():
                raise _missing(bucket, key, f"cannot be read: bucket {bucket} does not exist")
            if not path.is_file():
                raise _missing(bucket, key)
        except PermissionError as exc:  # a folder on the way may not be searched
            raise _denied(bucket, key, exc.strerror or "permission denied") from None
        return path

    # -- protocol ---------------------------------------------------------------------
    def open(self, bucket: str, key: str) -> OpenedBlob:
        path = self._existing_file(bucket, key)
        try:
            # The file object itself: its `name` lets callers hard-link instead of copying.
            return OpenedBlob(path.open("rb"))
        except PermissionError as exc:
            raise _denied(bucket, key, exc.strerror or "permission denied") from None
        except OSError as exc:
            raise _missing(bucket, key, f"cannot be read ({exc.strerror})") from None

    def read(self, bucket: str, key: str) -> bytes:
        with self.open(bucket, key) as stream:
            return stream.read()

    def put(self, bucket: str, key: str, data: bytes | BinaryIO) -> None:
        path = self._path(bucket, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidS3ObjectException(
                f"Cannot store s3://{bucket}/{key}: a prefix of the key is an existing object."
            ) from None
        except PermissionError as exc:
            raise _denied(bucket, key, exc.strerror or "permission denied") from None
        if path.is_dir():
            raise InvalidS3ObjectException(
                f"Cannot store s3://{bucket}/{key}: other objects use it as a prefix."
            )
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-", suffix=".tmp")
        except PermissionError as exc:
            raise _denied(bucket, key, exc.strerror or "permission denied") from None
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, _COPY_CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def size(self, bucket: str, key: str) -> int:
        path = self._existing_file(bucket, key)
        try:
            return path.stat().st_size
        except PermissionError as exc:
            raise _denied(bucket, key, exc.strerror or "permission denied") from None

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._existing_file(bucket, key)
        except InvalidS3ObjectException:
            return False
        return True

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]:
        base = self._bucket_dir(bucket, prefix)
        if not base.is_dir():
            raise InvalidS3ObjectException(f"The S3 bucket {bucket} does not exist.")
        # Walk only the folder the prefix names (its part up to the last `/`).
        folder = prefix.rpartition("/")[0]
        start = base.joinpath(*folder.split("/")) if folder else base
        if folder and (".." in folder.split("/") or not start.resolve().is_relative_to(base)):
            return iter(())
        found: list[BlobInfo] = []
        for dirpath, _dirs, files in os.walk(start):
            rel_dir = Path(dirpath).relative_to(base).as_posix()
            for name in files:
                if name.startswith(".put-"):
                    continue  # an in-flight write
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(BlobInfo(key, (Path(dirpath) / name).stat().st_size))
        # S3 lists in UTF-8 byte order of the keys.
        found.sort(key=lambda info: info.key.encode())
        return iter(found)

    def delete(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key)
        if path.is_file():
            path.unlink()
            # Drop folders the object leaves empty, so its prefix disappears from listings.
            bucket_dir = self._bucket_dir(bucket, key)
            parent = path.parent
            while parent != bucket_dir:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    def ensure_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket).mkdir(parents=True, exist_ok=True)


_READ_BUFFER = 1 << 16
_POOL_CONNECTIONS = 32


def _unreachable_reason(exc: BaseException) -> str | None:
    """Why `exc` means the store itself could not be reached, or None when it is an answer
    about the object (missing, refused, ...)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        HTTPClientError,
        IncompleteReadError,
        ReadTimeoutError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "timed out"
    if isinstance(exc, BotoConnectionError):
        return "could not connect"
    if isinstance(exc, ConnectionClosedError):
        return "the connection was closed"
    if isinstance(exc, HTTPClientError | IncompleteReadError | Urllib3Error | OSError):
        return "the connection broke off"
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if int(status) >= 500:
            code = exc.response.get("Error", {}).get("Code") or ""
            return f"it answered HTTP {status}{f' {code}' if code else ''}"
    return None


class _S3Body(io.RawIOBase):
    """botocore's StreamingBody as a raw stream whose failures are our typed errors.

    Reads go through `StreamingBody.readinto`, never the urllib3 response behind it, so
    botocore's own checks (a body cut short is an IncompleteReadError) apply."""

    def __init__(self, body: Any, translate: Callable[[Exception], Exception]) -> None:
        super().__init__()
        self._body = body
        self._translate = translate

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            return self._body.readinto(buffer)
        except (BotoCoreError, Urllib3Error, OSError) as exc:
            raise self._translate(exc) from None

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


class S3BlobStore:
    """An S3-protocol endpoint through boto3. Thread-safe (boto3 clients are)."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=region or "us-east-1",
                aws_access_key_id=access_key_id or None,
                aws_secret_access_key=secret_access_key or None,
                # Image probes run 8 threads a job and jobs run side by side: a pool of
                # boto3's default 10 connections would be reopened over and over.
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                              max_pool_connections=_POOL_CONNECTIONS),
            )
        self._s3 = client
        meta = getattr(client, "meta", None)
        #: Where the store is, as its unreachable-messages name it (no credentials in it).
        self.endpoint = str(getattr(meta, "endpoint_url", None) or endpoint_url or "(default)")

    def _translate(self, exc: Exception, bucket: str, key: str
                   ) -> InvalidS3ObjectException | BlobStoreUnavailable:
        """The typed error for a failed call: `BlobStoreUnavailable` when the store could
        not be reached, `BlobAccessDenied` for a refusal, else InvalidS3ObjectException.
        A HEAD answer has no body, so its refusal is a bare 403 (botocore reports the code
        "403"); GET and the bucket calls say `AccessDenied`. Every 403 is a refusal,
        whatever its code (`AllAccessDisabled`, ...)."""
        from botocore.exceptions import ClientError

        unreachable = _unreachable_reason(exc)
        if unreachable is not None:
            return _unreachable(self.endpoint, unreachable, bucket, key)
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("AccessDenied", "403", "Forbidden") or status == 403:
                return _denied(bucket, key, code or "403")
            if code in ("NoSuchBucket",):
                return _missing(bucket, key, f"cannot be read: bucket {bucket} does not exist")
            if code in ("NoSuchKey", "404", "NotFound"):
                return _missing(bucket, key)
            return _missing(bucket, key, f"cannot be read ({code or exc})")
        return _missing(bucket, key, f"cannot be read ({exc})")

    def _client_errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (ClientError, BotoCoreError)

    def open(self, bucket: str, key: str) -> OpenedBlob:
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except self._client_errors() as exc:
            raise self._translate(exc, bucket, key) from None
        raw = _S3Body(body, lambda exc: self._translate(exc, bucket, key))
        return OpenedBlob(io.BufferedReader(raw, _READ_BUFFER))  # type: ignore[arg-type]

    def read(self, bucket: str, key: str) -> bytes:
        with self.open(bucket, key) as stream:
            return stream.read()

    def put(self, bucket: str, key: str, data: bytes | BinaryIO) -> None:
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                self._s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
            else:
                self._s3.upload_fileobj(data, bucket, key)
        except self._client_errors() as exc:
            raise self._translate(exc, bucket, key) from None

    def size(self, bucket: str, key: str) -> int:
        try:
            return int(self._s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except self._client_errors() as exc:
            # HEAD has no body, so a missing bucket reads as a bare 404.
            raise self._translate(exc, bucket, key) from None

    def exists(self, bucket: str, key: str) -> bool:
        """False for a missing (or refused) object; BlobStoreUnavailable is raised, never
        read as "absent"."""
        try:
            self.size(bucket, key)
        except InvalidS3ObjectException:
            return False
        return True

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield BlobInfo(item["Key"], int(item["Size"]))
        except self._client_errors() as exc:
            raise self._translate(exc, bucket, prefix) from None

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=bucket, Key=key)
        except self._client_errors() as exc:
            raise self._translate(exc, bucket, key) from None

    def bucket_owner(self, bucket: str) -> str:
        """The canonical user id of the bucket's owner: `Owner.ID` of GetBucketAcl (what
        `aws s3api get-bucket-acl` shows, training.md §2.4 #4). BlobAccessDenied when the
        caller may not read the bucket's ACL, InvalidS3ObjectException when there is no
        such bucket."""
        try:
            owner = self._s3.get_bucket_acl(Bucket=bucket).get("Owner") or {}
        except self._client_errors() as exc:
            raise self._translate(exc, bucket, "") from None
        owner_id = owner.get("ID")
        if not owner_id:
            raise InvalidS3ObjectException(f"GetBucketAcl on {bucket} named no owner.")
        return str(owner_id)

    def ensure_bucket(self, bucket: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_bucket(Bucket=bucket)
            return
        except self._client_errors() as exc:
            if not isinstance(exc, ClientError) or _unreachable_reason(exc) is not None:
                raise self._translate(exc, bucket, "") from None
        try:
            self._s3.create_bucket(Bucket=bucket)
        except self._client_errors() as exc:
            code = exc.response.get("Error", {}).get("Code", "") \
                if isinstance(exc, ClientError) else ""
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._translate(exc, bucket, "") from None


def bucket_owner(blobs: BlobStore, bucket: str) -> str | None:
    """The bucket owner's canonical id, or None when the store has no owners (LocalBlobStore:
    every bucket is a folder of one tree, so owner checks do not apply). Raises what the
    store's `bucket_owner` raises (BlobAccessDenied, InvalidS3ObjectException)."""
    read_owner = getattr(blobs, "bucket_owner", None)
    if read_owner is None:
        return None
    return read_owner(bucket)


class BlobStoreKeys(BackendSettings):
    """The blob store's `[backends.local]` keys (part of the local backend's LocalSettings).

    `blob_store = "local"` (default): files under `<data_dir>/s3`. `blob_store = "s3"`:
    boto3 with the `s3_*` keys (each optional; boto3's usual credential chain fills what is
    missing).
    """

    blob_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @field_validator("blob_store", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


def make_blob_store(settings: BlobStoreKeys | Mapping[str, Any], data_dir: Path) -> BlobStore:
    """The blob store `settings` name (the backend's typed settings; a mapping is read for
    the BlobStoreKeys keys only)."""
    settings = settings_part(BlobStoreKeys, settings)
    if settings.blob_store == "s3":
        return S3BlobStore(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalBlobStore(Path(data_dir) / "s3")
