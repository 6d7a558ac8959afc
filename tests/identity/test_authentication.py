"""Authentication with `auth = "required"`: signed gRPC calls and SigV4 on the AWS front,
checked against the identity directory the first start creates (docs/configuration.md).

Every way a call can fail to prove its caller gets the AWS error name; a call that proves it
goes through; the secret is never stored in clear."""

from __future__ import annotations

import configparser
import datetime as dt
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import grpc
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labelgate import errors, request_signing
from labelgate.client import Client
from labelgate.client._credentials import find_credentials
from labelgate.client._errors import error_from_rpc
from labelgate.request_signing import Credentials
from labelgate.server.config import Settings
from labelgate.server.testing import RunningGateway, running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from labelgate.v1.custom_labels_pb2_grpc import CustomLabelsStub

METHOD = "/labelgate.v1.CustomLabels/DescribeProjects"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    settings = Settings(data_dir=tmp_path / "data", auth="required", aws_port=-1,
                        shutdown_grace_seconds=1.0)
    with running_gateway(settings) as running:
        yield running


@pytest.fixture
def root(gateway: RunningGateway) -> Credentials:
    found = find_credentials({"AWS_SHARED_CREDENTIALS_FILE":
                              str(gateway.data_dir / "root-credentials")})
    assert found is not None
    return found


def _raw_call(gateway: RunningGateway, metadata: tuple[tuple[str, str], ...],
              request: pb.DescribeProjectsRequest | None = None) -> pb.DescribeProjectsResponse:
    with grpc.insecure_channel(gateway.address) as channel:
        return CustomLabelsStub(channel).DescribeProjects(
            request or pb.DescribeProjectsRequest(), metadata=metadata, timeout=10)


def _code_of(error: grpc.RpcError) -> str:
    return error_from_rpc(error, endpoint="test").code


def test_the_first_start_writes_the_root_credentials_file(gateway: RunningGateway):
    path = gateway.data_dir / "root-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profile = configparser.ConfigParser()
    profile.read(path)
    assert profile["default"]["aws_access_key_id"].startswith("LGAK")
    assert len(profile["default"]["aws_secret_access_key"]) == 40
    assert stat.S_IMODE((gateway.data_dir / "master.key").stat().st_mode) == 0o600


def test_secrets_are_not_stored_in_clear(gateway: RunningGateway, root: Credentials):
    database = (gateway.data_dir / "identity.db").read_bytes()
    assert root.access_key_id.encode() in database
    assert root.secret_access_key.encode() not in database


def test_a_call_without_credentials_is_unauthenticated(gateway: RunningGateway):
    with Client(gateway.address, credentials=None) as client, \
            pytest.raises(errors.MissingAuthenticationTokenException) as raised:
        client.create_project(project_name="p")
    assert raised.value.grpc_code == grpc.StatusCode.UNAUTHENTICATED


def test_the_client_signs_with_the_key_boto3_would_use(gateway: RunningGateway,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(gateway.data_dir / "root-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with Client(gateway.address) as client:
        client.create_project(project_name="signed")
        names = [p.project_arn.split("/")[1]
                 for p in client.describe_projects().project_descriptions]
    assert names == ["signed"]


@pytest.mark.parametrize(("credentials", "code"), [
    (lambda root: Credentials(root.access_key_id, "x" * 40), "InvalidSignatureException"),
    (lambda root: Credentials("LGAKUNKNOWNUNKNOWNUN", root.secret_access_key),
     "UnrecognizedClientException"),
])
def test_a_wrong_secret_or_an_unknown_key_is_refused(gateway, root, credentials, code):
    with Client(gateway.address, credentials=credentials(root)) as client, \
            pytest.raises(errors.LabelgateError) as raised:
        client.describe_projects()
    assert raised.value.code == code


def test_an_expired_signature_is_refused(gateway: RunningGateway, root: Credentials):
    body = pb.DescribeProjectsRequest().SerializeToString()
    stale = dt.datetime.now(dt.UTC) - request_signing.MAX_SKEW - dt.timedelta(seconds=30)
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(gateway, request_signing.sign(root, METHOD, body, now=stale))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _code_of(raised.value) == "InvalidSignatureException"
    assert "expired" in raised.value.details()


def test_a_replayed_call_is_refused(gateway: RunningGateway, root: Credentials):
    metadata = request_signing.sign(root, METHOD, pb.DescribeProjectsRequest().SerializeToString())
    _raw_call(gateway, metadata)
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(gateway, metadata)
    assert _code_of(raised.value) == "InvalidSignatureException"
    assert "already used" in raised.value.details()


def test_a_changed_request_no_longer_matches_its_signature(gateway, root):
    metadata = request_signing.sign(root, METHOD, pb.DescribeProjectsRequest().SerializeToString())
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(gateway, metadata, pb.DescribeProjectsRequest(max_results=5))
    assert _code_of(raised.value) == "InvalidSignatureException"


def test_a_malformed_signature_is_incomplete(gateway: RunningGateway):
    metadata = (("authorization", f"{request_signing.ALGORITHM} nonsense"),)
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(gateway, metadata)
    assert _code_of(raised.value) == "IncompleteSignatureException"


def test_health_needs_no_credentials(gateway: RunningGateway):
    with grpc.insecure_channel(gateway.address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_boto3_uses_the_same_credentials_file_on_the_aws_front(gateway, monkeypatch):
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(gateway.data_dir / "root-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    url = f"http://127.0.0.1:{gateway.gateway.aws_port}"
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    rekognition = boto3.Session().client("rekognition", endpoint_url=url,
                                         region_name="us-east-1", config=config)
    rekognition.create_project(ProjectName="from-boto3")
    names = [p["ProjectArn"].split("/")[1]
             for p in rekognition.describe_projects()["ProjectDescriptions"]]
    assert names == ["from-boto3"]
    unsigned = boto3.Session().client(
        "rekognition", endpoint_url=url, region_name="us-east-1", config=config,
        aws_access_key_id="LGAKUNKNOWNUNKNOWNUN", aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as raised:
        unsigned.describe_projects()
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_restart_keeps_the_first_account(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, auth="required", shutdown_grace_seconds=1.0)
    with running_gateway(settings):
        first = (tmp_path / "root-credentials").read_text()
    with running_gateway(settings) as again:
        assert (tmp_path / "root-credentials").read_text() == first
        credentials = find_credentials({"AWS_SHARED_CREDENTIALS_FILE":
                                        str(tmp_path / "root-credentials")})
        with Client(again.address, credentials=credentials) as client:
            assert not client.describe_projects().project_descriptions


def test_the_cli_signs_with_the_credentials_file(gateway, monkeypatch, capsys):
    from labelgate.cli.main import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(gateway.data_dir / "nowhere"))
    assert main(["--endpoint", gateway.address, "describe-projects"]) != 0
    assert "MissingAuthenticationTokenException" in capsys.readouterr().err
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(gateway.data_dir / "root-credentials"))
    assert main(["--endpoint", gateway.address, "create-project", "--project-name", "cli"]) == 0
    assert main(["--endpoint", gateway.address, "describe-projects"]) == 0
    assert '"ProjectArn"' in capsys.readouterr().out


@pytest.mark.parametrize(("metadata", "code"), [
    # A nonce the gateway would have to remember must be the bounded shape it signs.
    (lambda root: request_signing.sign(root, METHOD, b"", nonce="x" * 4000),
     "IncompleteSignatureException"),
    # A made-up key id of any size is unrecognized without a lookup.
    (lambda root: ((("authorization",
                     f"{request_signing.ALGORITHM} Credential={'K' * 5000}, Signature=00"),
                    ("x-lg-date", dt.datetime.now(dt.UTC).strftime(request_signing.DATE_FORMAT)),
                    ("x-lg-nonce", "0" * 32))),
     "UnrecognizedClientException"),
])
def test_oversized_signature_parts_are_refused(gateway, root, metadata, code):
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(gateway, metadata(root))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _code_of(raised.value) == code
