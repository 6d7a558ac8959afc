"""BlobStore contract, run against both implementations (a local folder and a real
S3-protocol server, moto_server), plus the local store's path-safety rules."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from labelgate.backends.local.blobs.stores import (
    BlobInfo,
    BlobStore,
    BlobStoreUnavailable,
    LocalBlobStore,
    S3BlobStore,
    make_blob_store,
    parse_s3_uri,
)
from labelgate.errors import InternalServerError, InvalidS3ObjectException
from tests.fixtures_s3 import CREDENTIALS, REGION, _free_port, moto_s3_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


def _s3_store(endpoint: str) -> S3BlobStore:
    return S3BlobStore(
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "s3")
    return _s3_store(request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def bucket(store: BlobStore) -> str:
    name = f"bkt-{uuid.uuid4().hex[:12]}"
    store.ensure_bucket(name)
    return name


# --- the contract ------------------------------------------------------------------------------


def test_put_then_read_round_trips_bytes(store, bucket):
    store.put(bucket, "a/b.manifest", b"hello\nworld\n")
    assert store.read(bucket, "a/b.manifest") == b"hello\nworld\n"


def test_put_accepts_a_stream_and_open_reads_in_chunks(store, bucket):
    data = bytes(range(256)) * 4096  # 1 MiB
    store.put(bucket, "big.bin", io.BytesIO(data))
    with store.open(bucket, "big.bin") as stream:
        chunks = []
        while chunk := stream.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == data


def test_open_is_a_context_manager_the_stream_lives_only_inside_it(store, bucket):
    store.put(bucket, "k.txt", b"abc")
    opened = store.open(bucket, "k.txt")
    assert not hasattr(opened, "read")  # `store.open(...).read()` cannot be written
    with opened as stream:
        assert stream.read() == b"abc"
    assert stream.closed


def test_an_opened_object_reads_line_by_line_to_its_end(store, bucket):
    # The S3 store used to hand out botocore's bare urllib3 response here, which closes
    # itself at the end of the body: io.TextIOWrapper then failed with "I/O operation on
    # closed file" (every training on S3 did).
    lines = [f"line {i} " + "x" * (i % 97) for i in range(5000)]
    store.put(bucket, "lines.manifest", "".join(f"{line}\n" for line in lines).encode())
    with store.open(bucket, "lines.manifest") as stream:
        read = [line.rstrip("\n") for line in io.TextIOWrapper(stream, encoding="utf-8")]
    assert read == lines


def test_put_replaces_an_existing_object(store, bucket):
    store.put(bucket, "k.txt", b"one")
    store.put(bucket, "k.txt", b"two!")
    assert store.read(bucket, "k.txt") == b"two!"
    assert store.size(bucket, "k.txt") == 4


def test_size_and_exists(store, bucket):
    store.put(bucket, "x/y.jpg", b"12345")
    assert store.size(bucket, "x/y.jpg") == 5
    assert store.exists(bucket, "x/y.jpg")
    assert not store.exists(bucket, "x/nope.jpg")
    assert not store.exists(bucket, "x")  # a prefix is not an object


def test_list_by_prefix_in_key_order(store, bucket):
    for key in ["img/b.jpg", "img/a.jpg", "img/sub/c.jpg", "imgx.jpg", "other/d.jpg"]:
        store.put(bucket, key, b"x" * len(key))
    assert [i.key for i in store.list(bucket, "img/")] == ["img/a.jpg", "img/b.jpg",
                                                           "img/sub/c.jpg"]
    assert [i.key for i in store.list(bucket, "img")] == ["img/a.jpg", "img/b.jpg",
                                                          "img/sub/c.jpg", "imgx.jpg"]
    assert BlobInfo("other/d.jpg", 11) in list(store.list(bucket))
    assert list(store.list(bucket, "nothing/")) == []


def test_delete_removes_and_tolerates_absent_objects(store, bucket):
    store.put(bucket, "d/e.jpg", b"x")
    store.delete(bucket, "d/e.jpg")
    assert not store.exists(bucket, "d/e.jpg")
    assert list(store.list(bucket, "d/")) == []
    store.delete(bucket, "d/e.jpg")  # no error, as in S3


def test_missing_object_is_invalid_s3_object_naming_bucket_and_key(store, bucket):
    for call in (store.read, store.size, store.open):
        with pytest.raises(InvalidS3ObjectException) as caught:
            call(bucket, "missing/key.manifest")
        assert bucket in str(caught.value) and "missing/key.manifest" in str(caught.value)


def test_missing_bucket_is_invalid_s3_object(store):
    with pytest.raises(InvalidS3ObjectException) as caught:
        store.read("no-such-bucket-here", "k.manifest")
    assert "no-such-bucket-here" in str(caught.value)


# --- an unreachable store ---------------------------------------------------------------------


def _unreachable_store() -> S3BlobStore:
    """An S3 store whose endpoint has nothing listening (one attempt per call: fast)."""
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{_free_port()}", region_name=REGION,
        config=Config(retries={"max_attempts": 1}, connect_timeout=2), **CREDENTIALS)
    return S3BlobStore(client=client)


@pytest.mark.parametrize("call", [
    lambda s: s.read("bkt", "k.manifest"),
    lambda s: s.open("bkt", "k.manifest"),
    lambda s: s.size("bkt", "k.manifest"),
    lambda s: s.exists("bkt", "k.manifest"),  # never "absent"
    lambda s: s.put("bkt", "k.manifest", b"x"),
    lambda s: s.put("bkt", "k.manifest", io.BytesIO(b"x")),
    lambda s: list(s.list("bkt", "k")),
    lambda s: s.delete("bkt", "k.manifest"),
    lambda s: s.ensure_bucket("bkt"),
    lambda s: s.bucket_owner("bkt"),
], ids=["read", "open", "size", "exists", "put", "put-stream", "list", "delete",
        "ensure_bucket", "bucket_owner"])
def test_an_unreachable_store_is_blob_store_unavailable_never_a_missing_object(call):
    store = _unreachable_store()
    with pytest.raises(BlobStoreUnavailable) as caught:
        call(store)
    assert not isinstance(caught.value, InvalidS3ObjectException)
    assert isinstance(caught.value, InternalServerError)  # what a synchronous call returns
    assert str(caught.value).startswith(f"The S3 store at {store.endpoint} was unreachable")
    assert "(could not connect)" in str(caught.value)


def _stub_store(**methods) -> S3BlobStore:
    client = SimpleNamespace(meta=SimpleNamespace(endpoint_url="http://s3.test:9000"),
                             **methods)
    return S3BlobStore(client=client)


def test_a_body_cut_short_is_blob_store_unavailable():
    # The connection dropped mid-object: fewer bytes than Content-Length (botocore's check).
    store = _stub_store(get_object=lambda **_: {"Body": StreamingBody(io.BytesIO(b"abc"), 10)})
    with store.open("bkt", "k.png") as stream, pytest.raises(BlobStoreUnavailable) as caught:
        stream.read()
    assert "s3://bkt/k.png" in str(caught.value) and "http://s3.test:9000" in str(caught.value)
    with pytest.raises(BlobStoreUnavailable):
        store.read("bkt", "k.png")


@pytest.mark.parametrize("status, code, unavailable", [
    (503, "SlowDown", True), (500, "InternalError", True), (404, "NoSuchKey", False),
    (403, "AccessDenied", False),
])
def test_server_errors_are_unavailable_answers_about_the_object_are_not(status, code,
                                                                        unavailable):
    def refuse(**_):
        raise ClientError({"Error": {"Code": code},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, "HeadObject")

    store = _stub_store(head_object=refuse)
    expected = BlobStoreUnavailable if unavailable else InvalidS3ObjectException
    with pytest.raises(expected) as caught:
        store.size("bkt", "k.png")
    assert isinstance(caught.value, InvalidS3ObjectException) is not unavailable


# --- the local store's path safety ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a//b", "a/./b", "a\\b", ""]
)
def test_local_store_refuses_keys_that_leave_the_root(tmp_path, key):
    store = LocalBlobStore(tmp_path / "s3")
    with pytest.raises(InvalidS3ObjectException):
        store.put("bkt", key, b"x")
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("bucket", ["..", ".hidden", "a/b", "x", "../s3", "bad name"])
def test_local_store_refuses_bad_bucket_names(tmp_path, bucket):
    store = LocalBlobStore(tmp_path / "s3")
    with pytest.raises(InvalidS3ObjectException):
        store.put(bucket, "k.txt", b"x")


def test_local_store_layout_is_root_bucket_key(tmp_path):
    store = LocalBlobStore(tmp_path / "s3")
    store.put("my-bucket", "dir/file.manifest", b"data")  # the bucket folder appears on demand
    assert (tmp_path / "s3" / "my-bucket" / "dir" / "file.manifest").read_bytes() == b"data"


def test_local_store_refuses_a_symlink_out_of_the_root(tmp_path):
    store = LocalBlobStore(tmp_path / "s3")
    store.ensure_bucket("bkt")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"secret")
    (tmp_path / "s3" / "bkt" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidS3ObjectException):
        store.read("bkt", "link/secret.txt")


# --- parse_s3_uri and the factory -----------------------------------------------------------------


def test_parse_s3_uri():
    assert parse_s3_uri("s3://bkt/a/b.jpg") == ("bkt", "a/b.jpg")
    for bad in ["https://bkt/a.jpg", "s3://bkt", "s3://bkt/", "s3:///key", "bkt/key"]:
        with pytest.raises(ValueError):
            parse_s3_uri(bad)


def test_make_blob_store_defaults_to_a_local_folder_under_data_dir(tmp_path):
    store = make_blob_store({}, tmp_path)
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "s3").resolve()


def test_make_blob_store_s3_uses_the_endpoint(tmp_path, moto_endpoint):
    store = make_blob_store(
        {"blob_store": "s3", "s3_endpoint_url": moto_endpoint, "s3_region": REGION,
         "s3_access_key_id": "testing", "s3_secret_access_key": "testing"},
        tmp_path,
    )
    assert isinstance(store, S3BlobStore)
    store.ensure_bucket("factory-bucket")
    store.put("factory-bucket", "k", b"v")
    assert _s3_store(moto_endpoint).read("factory-bucket", "k") == b"v"


def test_make_blob_store_rejects_unknown_kinds(tmp_path):
    with pytest.raises(ValueError, match="blob_store"):
        make_blob_store({"blob_store": "ftp"}, tmp_path)
