"""Refused reads and bucket owners, unit by unit (the end-to-end runs against moto_server
are in tests/e2e/test_s3_permissions.py).

* Both blob stores type a refusal as `BlobAccessDenied` (an InvalidS3ObjectException).
  LocalBlobStore maps PermissionError: once with a patched `Path.open`/`Path.stat`, and
  once for real, with an unreadable file and an unsearchable folder (as root, where chmod
  refuses nothing, those reads run in a child process as the user `nobody`).
  S3BlobStore's translation and `bucket_owner` are checked with botocore's Stubber, whose
  canned responses botocore validates against the S3 service model (the e2e tests hit a
  real server).
* The manifest reader turns a refusal into ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET,
  the image probe into ACCESS_DENIED (ERROR_INVALID_IMAGE on the line), the dataset tally
  into ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET.
* The training validator's content errors for images buckets: refused images, an images
  bucket's ACL refused, an images bucket of another owner, and the local store (no
  owners: no owner check). `DenyingStore` below is a LocalBlobStore that refuses chosen
  buckets and may name owners: a test double at the BlobStore boundary, standing in for
  what the e2e tests get from moto.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import pytest
from botocore.stub import Stubber
from PIL import Image

from labelgate.backends.local.blobs.stores import (
    BlobAccessDenied,
    LocalBlobStore,
    S3BlobStore,
    bucket_owner,
)
from labelgate.backends.local.training.inputs import ManifestInput, TrainingInputs
from labelgate.backends.local.training.outputs import OutputLocation
from labelgate.backends.local.training.validation_stage import (
    ContentFailure,
    TrainingDataValidator,
    ValidationPassed,
)
from labelgate.backends.local.validation.content_checks import (
    IMAGES_BUCKET_OWNER,
    IMAGES_BUCKET_PERMISSIONS,
    TOO_MANY_INVALID_ROWS,
    ManifestFacts,
    file_level_errors,
)
from labelgate.backends.local.validation.image_probe import ImageProbe, ImageProblem
from labelgate.backends.local.validation.manifests import (
    FILE_ERROR_MESSAGES,
    ImportTally,
    ManifestFileError,
    ManifestLimits,
    ManifestReader,
    iter_entries,
    open_manifest,
    validate_lines,
)
from labelgate.errors import InvalidS3ObjectException

MANIFEST_PERMISSIONS = "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 80), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


def _cls(ref: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": ref, "kind": 1,
        "kind-metadata": {"confidence": 1, "class-name": label, "human-annotated": "yes",
                          "creation-date": "2024-01-01T00:00:00",
                          "type": "groundtruth/image-classification",
                          "job-name": "labeling-job/kind"},
    }


class DenyingStore(LocalBlobStore):
    """A LocalBlobStore that refuses reads of chosen buckets (on the HEAD too, unless
    `head_allowed`), and names bucket owners when `owners` is given."""

    def __init__(self, root: Path, *, denied: set[str] = frozenset(),
                 head_allowed: bool = False, owners: dict[str, str] | None = None,
                 acl_denied: set[str] = frozenset()) -> None:
        super().__init__(root)
        self.denied = set(denied)
        self.head_allowed = head_allowed
        self.owners = owners
        self.acl_denied = set(acl_denied)
        if owners is None:
            self.bucket_owner = None  # type: ignore[assignment]  # like LocalBlobStore

    def _refuse(self, bucket: str, key: str) -> None:
        if bucket in self.denied:
            raise BlobAccessDenied(f"Access to s3://{bucket}/{key} was denied (test).")

    def size(self, bucket: str, key: str) -> int:
        if not self.head_allowed:
            self._refuse(bucket, key)
        return super().size(bucket, key)

    def open(self, bucket: str, key: str) -> BinaryIO:
        self._refuse(bucket, key)
        return super().open(bucket, key)

    def bucket_owner(self, bucket: str) -> str:  # type: ignore[override]
        assert self.owners is not None
        if bucket in self.acl_denied:
            raise BlobAccessDenied(f"Access to the bucket {bucket} was denied (test).")
        if bucket not in self.owners:
            raise InvalidS3ObjectException(f"The S3 bucket {bucket} does not exist.")
        return self.owners[bucket]


# --- the blob stores ------------------------------------------------------------------------


def test_local_store_types_a_permission_error_as_blob_access_denied(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path)
    store.put("bucket", "a.png", b"x")

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(BlobAccessDenied) as denied:
        store.open("bucket", "a.png")
    assert isinstance(denied.value, InvalidS3ObjectException)
    assert "s3://bucket/a.png" in str(denied.value)
    monkeypatch.undo()
    monkeypatch.setattr(Path, "stat", refuse)
    with pytest.raises(BlobAccessDenied):
        store.size("bucket", "a.png")


def test_local_store_missing_object_is_not_a_refusal(tmp_path):
    store = LocalBlobStore(tmp_path)
    store.ensure_bucket("bucket")
    with pytest.raises(InvalidS3ObjectException) as missing:
        store.size("bucket", "nope.png")
    assert not isinstance(missing.value, BlobAccessDenied)


# A real chmod. Root reads files whatever their mode, so as root (CI) the reads run in a
# forked child that has given up root for the user `nobody`, on a store that user owns (a
# fork, not a new interpreter: the interpreter may live under /root, which nobody cannot
# search). The child reports what each read did; the readable control proves the refusals
# come from the modes.


def _unreadable_store(root: Path) -> LocalBlobStore:
    store = LocalBlobStore(root)
    store.put("bucket", "a.png", b"x")
    store.put("bucket", "ok.png", b"fine")
    store.put("shut", "b.png", b"y")
    (root / "bucket" / "a.png").chmod(0)
    return store


def _reads(store: LocalBlobStore) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"euid": ["ok", os.geteuid()]}
    for name, read in [("file", lambda: store.open("bucket", "a.png").read()),
                       ("file-size", lambda: store.size("bucket", "a.png")),
                       ("folder", lambda: store.open("shut", "b.png").read()),
                       ("control", lambda: store.read("bucket", "ok.png"))]:
        try:
            value = read()
            out[name] = ["ok", value.decode() if isinstance(value, bytes) else value]
        except Exception as exc:  # reported to the parent, which asserts on it
            out[name] = [type(exc).__name__, str(exc)]
    return out


def _reads_as_nobody(root: Path) -> dict[str, list[Any]]:
    """`_reads` on the store at `root`, in a child process running as `nobody`."""
    nobody = pwd.getpwnam("nobody")
    for path in [root, *root.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (root / "shut").chmod(0)  # nobody may not search the bucket folder
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(readable)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os.write(writable, json.dumps(_reads(LocalBlobStore(root))).encode())
            code = 0
        except BaseException as exc:
            os.write(writable, json.dumps({"child": ["failed", repr(exc)]}).encode())
        finally:
            os._exit(code)
    os.close(writable)
    chunks = []
    with os.fdopen(readable, "rb") as stream:
        chunks.append(stream.read())
    _, status = os.waitpid(pid, 0)
    results = json.loads(b"".join(chunks))
    assert os.waitstatus_to_exitcode(status) == 0, results
    return results


def test_local_store_unreadable_file_is_blob_access_denied(tmp_path):
    if os.geteuid() == 0:
        # pytest's tmp_path sits in a folder only root may search: use a fresh one in /tmp.
        root = Path(tempfile.mkdtemp(prefix="labelgate-perm-"))
        try:
            _unreadable_store(root)
            results = _reads_as_nobody(root)
        finally:
            (root / "shut").chmod(0o700)
            shutil.rmtree(root)
        assert results["euid"] == ["ok", pwd.getpwnam("nobody").pw_uid]
    else:
        root = tmp_path / "store"
        store = _unreadable_store(root)
        (root / "shut").chmod(0)
        try:
            results = _reads(store)
        finally:
            (root / "shut").chmod(0o700)
    assert results["control"] == ["ok", "fine"], results  # what its modes allow is read
    assert results["file"][0] == "BlobAccessDenied", results
    assert "s3://bucket/a.png" in results["file"][1]
    assert results["file-size"] == ["ok", 1], results  # a stat needs no read permission
    assert results["folder"][0] == "BlobAccessDenied", results
    assert "s3://shut/b.png" in results["folder"][1]


def test_local_store_has_no_bucket_owners(tmp_path):
    assert bucket_owner(LocalBlobStore(tmp_path), "bucket") is None


def _stubbed() -> tuple[S3BlobStore, Stubber]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    return S3BlobStore(client=client), Stubber(client)


@pytest.mark.parametrize(("code", "status"), [("403", 403), ("AccessDenied", 403),
                                              ("AllAccessDisabled", 403)])
def test_s3_store_types_every_403_as_blob_access_denied(code, status):
    store, stub = _stubbed()
    stub.add_client_error("head_object", service_error_code=code, http_status_code=status,
                          expected_params={"Bucket": "b", "Key": "k.png"})
    stub.add_client_error("get_object", service_error_code=code, http_status_code=status,
                          expected_params={"Bucket": "b", "Key": "k.png"})
    with stub:
        with pytest.raises(BlobAccessDenied):
            store.size("b", "k.png")
        with pytest.raises(BlobAccessDenied):
            store.open("b", "k.png")
        stub.assert_no_pending_responses()


def test_s3_store_missing_key_is_not_a_refusal():
    store, stub = _stubbed()
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    with stub, pytest.raises(InvalidS3ObjectException) as missing:
        store.size("b", "k.png")
    assert not isinstance(missing.value, BlobAccessDenied)


def test_s3_store_bucket_owner_is_the_acl_owner_id():
    """GetBucketAcl's Owner.ID; the canned response is validated against botocore's model."""
    store, stub = _stubbed()
    owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    stub.add_response(
        "get_bucket_acl",
        {"Owner": {"ID": owner, "DisplayName": "acme"},
         "Grants": [{"Grantee": {"ID": owner, "Type": "CanonicalUser"},
                     "Permission": "FULL_CONTROL"}]},
        expected_params={"Bucket": "imgs"},
    )
    stub.add_client_error("get_bucket_acl", service_error_code="AccessDenied",
                          http_status_code=403, expected_params={"Bucket": "locked"})
    stub.add_client_error("get_bucket_acl", service_error_code="NoSuchBucket",
                          http_status_code=404, expected_params={"Bucket": "gone"})
    with stub:
        assert bucket_owner(store, "imgs") == owner
        with pytest.raises(BlobAccessDenied):
            store.bucket_owner("locked")
        with pytest.raises(InvalidS3ObjectException) as gone:
            store.bucket_owner("gone")
        assert not isinstance(gone.value, BlobAccessDenied)


# --- manifests, images, the dataset tally -----------------------------------------------------


@pytest.mark.parametrize("head_allowed", [False, True], ids=["head-refused", "get-refused"])
def test_refused_manifest_is_the_manifest_permissions_file_error(tmp_path, head_allowed):
    store = DenyingStore(tmp_path, denied={"manifests"}, head_allowed=head_allowed)
    store.put("manifests", "train.manifest", b'{"source-ref": "s3://i/a.png"}\n')
    with pytest.raises(ManifestFileError) as error:
        open_manifest(store, "manifests", "train.manifest", require_extension=True).check()
    assert error.value.code == MANIFEST_PERMISSIONS
    assert error.value.message == "The S3 bucket permissions are incorrect."
    assert str(error.value).startswith(
        f"{MANIFEST_PERMISSIONS}: The S3 bucket permissions are incorrect.")


def test_missing_manifest_stays_the_inaccessible_file_error(tmp_path):
    store = DenyingStore(tmp_path, denied={"other"})
    store.ensure_bucket("manifests")
    with pytest.raises(ManifestFileError) as error:
        open_manifest(store, "manifests", "train.manifest")
    assert error.value.code == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"


@pytest.mark.parametrize("head_allowed", [False, True], ids=["head-refused", "get-refused"])
def test_refused_image_is_access_denied_and_an_invalid_image_line(tmp_path, head_allowed):
    store = DenyingStore(tmp_path, denied={"locked"}, head_allowed=head_allowed)
    store.put("locked", "a.png", PNG)
    store.put("open", "b.png", PNG)
    probe = ImageProbe(store, concurrency=1)
    assert probe.probe("locked", "a.png").problem is ImageProblem.ACCESS_DENIED
    assert probe.probe("open", "b.png").ok
    lines = [json.dumps(_cls("s3://locked/a.png", "cat")), json.dumps(_cls("s3://open/b.png",
                                                                           "cat"))]
    refused, fine = validate_lines(lines, images=probe)
    assert refused.image_denied and refused.status == "invalid"
    out = json.loads(refused.output_line)
    assert [e["code"] for e in out["errors"]] == ["ERROR_INVALID_IMAGE"]
    assert not fine.image_denied and fine.status == "valid"


def test_dataset_tally_fails_on_too_many_refused_images(tmp_path):
    store = DenyingStore(tmp_path, denied={"locked"}, head_allowed=True)
    lines = []
    for i in range(5):
        store.put("locked", f"{i}.png", PNG)
        lines.append(json.dumps(_cls(f"s3://locked/{i}.png", "cat")))
    tally = ImportTally()
    reader = ManifestReader(io.BytesIO("\n".join(lines).encode()))
    entries = list(iter_entries(reader, tally, images=ImageProbe(store, concurrency=1)))
    assert len(entries) == 5 and tally.denied_images == 5 and tally.missing_images == 5
    with pytest.raises(ManifestFileError) as error:
        tally.finish()
    assert error.value.code == "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET"
    assert error.value.message == FILE_ERROR_MESSAGES[error.value.code]


# --- the training validator's images-bucket content errors -------------------------------------


def test_bucket_errors_come_first_in_their_manifest_list():
    facts = ManifestFacts(total_lines=5, invalid_lines=5, bucket_count=1,
                          all_labels=frozenset(), usable_labels=frozenset(),
                          images_denied=True, foreign_images_owner=True)
    assert [e.code for e in file_level_errors(facts)] == [
        IMAGES_BUCKET_PERMISSIONS, IMAGES_BUCKET_OWNER, TOO_MANY_INVALID_ROWS]


class Training:
    """External training/test manifests in a DenyingStore, validated as the service does."""

    def __init__(self, store: LocalBlobStore) -> None:
        self.store = store

    def manifest(self, name: str, bucket: str, labels: list[str]) -> ManifestInput:
        lines = []
        for i, label in enumerate(labels):
            key = f"{name}/{i}.png"
            self.store.put(bucket, key, PNG)
            lines.append(json.dumps(_cls(f"s3://{bucket}/{key}", label)))
        self.store.put("manifests", f"{name}.manifest", "\n".join(lines).encode())
        return ManifestInput("manifests", f"{name}.manifest")

    def validate(self, train_bucket: str, test_bucket: str = "imgs") -> Any:
        inputs = TrainingInputs(self.manifest("train", train_bucket, ["a", "b"] * 3),
                                self.manifest("test", test_bucket, ["a", "b"]))
        validator = TrainingDataValidator(db=None, blobs=self.store,  # type: ignore[arg-type]
                                          limits=ManifestLimits(),
                                          images=ImageProbe(self.store, concurrency=1))
        return validator.validate(inputs, OutputLocation("out", "runs", "v1"))


def _codes(outcome: ContentFailure, side: str) -> list[str]:
    return [e.code for e in getattr(outcome.summary, side).errors]


def test_refused_training_images_are_the_images_permissions_content_error(tmp_path):
    outcome = Training(DenyingStore(tmp_path, denied={"locked"})).validate("locked")
    assert isinstance(outcome, ContentFailure)
    assert outcome.message == FILE_ERROR_MESSAGES[IMAGES_BUCKET_PERMISSIONS]
    assert _codes(outcome, "training")[0] == IMAGES_BUCKET_PERMISSIONS
    assert _codes(outcome, "testing") == []


def test_images_bucket_of_another_owner_is_the_owner_content_error(tmp_path):
    owners = {"manifests": "me", "imgs": "me", "theirs": "them", "out": "me"}
    outcome = Training(DenyingStore(tmp_path, owners=owners)).validate("theirs")
    assert isinstance(outcome, ContentFailure)
    assert outcome.message == FILE_ERROR_MESSAGES[IMAGES_BUCKET_OWNER]
    assert _codes(outcome, "training") == [IMAGES_BUCKET_OWNER]
    assert _codes(outcome, "testing") == []


def test_images_bucket_acl_refused_is_the_images_permissions_content_error(tmp_path):
    owners = {"manifests": "me", "imgs": "me", "shut": "me"}
    store = DenyingStore(tmp_path, owners=owners, acl_denied={"shut"})
    outcome = Training(store).validate("shut")
    assert isinstance(outcome, ContentFailure)
    assert _codes(outcome, "training") == [IMAGES_BUCKET_PERMISSIONS]


def test_unknown_manifest_bucket_owner_skips_the_owner_check(tmp_path):
    owners = {"imgs": "me", "theirs": "them"}  # the manifest bucket's ACL cannot be read
    store = DenyingStore(tmp_path, owners=owners, acl_denied={"manifests"})
    assert isinstance(Training(store).validate("theirs"), ValidationPassed)


def test_the_local_store_has_no_owner_check(tmp_path):
    """LocalBlobStore has no bucket owners: images in any bucket pass the owner check."""
    assert isinstance(Training(LocalBlobStore(tmp_path)).validate("elsewhere"),
                      ValidationPassed)
