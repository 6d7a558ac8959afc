"""Running commands: JSON output, one-line errors, AWS CLI exit codes, conveniences."""

import json
import socket
import sys
import types

import grpc
import pytest

from labelgate.cli._commands import manifest_chunks
from labelgate.cli._params import ParamError
from labelgate.cli._parser import EXIT_FAILURE, EXIT_PARAM, EXIT_SERVICE
from labelgate.v1 import custom_labels_pb2 as pb
from tests.client.fake_gateway import fail_with


def test_output_is_the_response_as_aws_json_indented_4(cli, gateway):
    description = pb.ProjectDescription(project_arn="arn:p", status=pb.PROJECT_STATUS_CREATED)
    description.creation_timestamp.FromSeconds(1_700_000_000)
    gateway.on("DescribeProjects",
               pb.DescribeProjectsResponse(project_descriptions=[description]))
    result = cli("--endpoint", gateway.address, "describe-projects")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"ProjectDescriptions": [{
        "ProjectArn": "arn:p", "CreationTimestamp": "2023-11-14T22:13:20+00:00",
        "Status": "CREATED", "Datasets": []}]}
    assert result.out.startswith('{\n    "ProjectDescriptions": [\n')
    assert "ResponseMetadata" not in result.out


def test_empty_responses_print_nothing(cli, gateway):
    gateway.on("DeleteDataset", pb.DeleteDatasetResponse())
    result = cli("delete-dataset", "--dataset-arn", "arn:d", "--endpoint", gateway.address)
    assert (result.code, result.out) == (0, "")


def test_the_request_reaches_the_server_with_backend_metadata(cli, gateway):
    gateway.on("CreateProject", pb.CreateProjectResponse(project_arn="arn:p"))
    result = cli("create-project", "--project-name", "p", "--tags", "team=vision",
                 "--endpoint", gateway.address, "--backend", "local")
    assert json.loads(result.out) == {"ProjectArn": "arn:p"}
    (request,) = gateway.requests("CreateProject")
    assert request.project_name == "p" and dict(request.tags) == {"team": "vision"}
    assert gateway.calls[0][2]["x-labelgate-backend"] == "local"


def test_endpoint_comes_from_the_environment(cli, gateway, monkeypatch):
    gateway.on("ListTagsForResource", pb.ListTagsForResourceResponse(tags={"a": "b"}))
    monkeypatch.setenv("LABELGATE_ENDPOINT", gateway.address)
    result = cli("list-tags-for-resource", "--resource-arn", "arn:r")
    assert json.loads(result.out) == {"Tags": {"a": "b"}}


def test_blobs_in_responses_would_print_as_base64():
    from labelgate.cli._output import render
    assert json.loads(render({"Blob": b"\x00\x01"})) == {"Blob": "AAE="}


def test_service_error_is_one_line_and_exit_254(cli, gateway):
    gateway.on("CreateProject", fail_with(grpc.StatusCode.FAILED_PRECONDITION,
                                          "A project named p already exists",
                                          "ResourceInUseException", "rid"))
    result = cli("--endpoint", gateway.address, "create-project", "--project-name", "p")
    assert result.code == EXIT_SERVICE == 254
    assert result.err == "ResourceInUseException: A project named p already exists\n"
    assert result.out == ""


def test_debug_adds_the_request_id_and_traceback(cli, gateway):
    gateway.on("CreateProject", fail_with(grpc.StatusCode.FAILED_PRECONDITION, "dup",
                                          "ResourceInUseException", "rid-9"))
    result = cli("--endpoint", gateway.address, "--debug", "create-project",
                 "--project-name", "p")
    assert result.code == EXIT_SERVICE
    assert "request id: rid-9" in result.err
    assert result.err.rstrip().endswith("ResourceInUseException: dup")


def test_missing_required_option_is_one_line_and_exit_252(cli):
    result = cli("create-dataset", "--dataset-type", "TRAIN")
    assert result.code == EXIT_PARAM == 252
    assert result.err == ("labelgate create-dataset: error: the following arguments are "
                          "required: --project-arn\n")


def test_bad_parameter_value_is_one_line_and_exit_252(cli):
    result = cli("tag-resource", "--resource-arn", "arn:r", "--tags", "{oops")
    assert result.code == EXIT_PARAM
    assert result.err.count("\n") == 1
    assert result.err.startswith("Error parsing parameter '--tags': Invalid JSON")


def test_connection_failure_is_one_line_naming_the_endpoint_exit_255(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{s.getsockname()[1]}"
    result = cli("--endpoint", target, "describe-projects")
    assert result.code == EXIT_FAILURE == 255
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"EndpointConnectionError: Could not connect to the endpoint "
                                 f"{target}")


def test_endpoint_url_with_a_scheme_is_accepted(cli, gateway):
    gateway.on("DescribeProjects", pb.DescribeProjectsResponse())
    result = cli("--endpoint-url", f"http://{gateway.address}/", "describe-projects")
    assert result.code == 0, result.err


def test_help_and_version_exit_0(cli):
    assert cli("--version").code == 0
    result = cli("create-project", "--help")
    assert result.code == 0 and "--project-name" in result.out


# -- waiting -----------------------------------------------------------------------------------

def _dataset(status: str, message: str = "") -> pb.DescribeDatasetResponse:
    return pb.DescribeDatasetResponse(dataset_description=pb.DatasetDescription(
        status=pb.DatasetStatus.Value("DATASET_STATUS_" + status), status_message=message))


def test_wait_dataset_created_succeeds_silently(cli, gateway):
    states = iter([_dataset("CREATE_IN_PROGRESS"), _dataset("CREATE_COMPLETE")])
    gateway.on("DescribeDataset", lambda request, context: next(states))
    result = cli("--endpoint", gateway.address, "wait", "dataset-created", "--dataset-arn",
                 "arn:d", "--delay", "0.01")
    assert (result.code, result.out, result.err) == (0, "", "")


def test_wait_failure_is_one_line_exit_255(cli, gateway):
    gateway.on("DescribeDataset", _dataset("CREATE_FAILED", "The manifest is empty."))
    result = cli("--endpoint", gateway.address, "wait", "dataset-created", "--dataset-arn",
                 "arn:d", "--delay", "0")
    assert result.code == EXIT_FAILURE
    assert result.err.count("\n") == 1
    assert result.err.startswith("WaiterError: Waiter DatasetCreated failed")
    assert "The manifest is empty." in result.err


def test_wait_project_version_running(cli, gateway):
    gateway.on("DescribeProjectVersions", pb.DescribeProjectVersionsResponse(
        project_version_descriptions=[pb.ProjectVersionDescription(
            status=pb.PROJECT_VERSION_STATUS_RUNNING)]))
    result = cli("--endpoint", gateway.address, "wait", "project-version-running",
                 "--project-arn", "arn:p", "--version-names", "v1", "--delay", "0")
    assert result.code == 0, result.err
    (request,) = gateway.requests("DescribeProjectVersions")
    assert list(request.version_names) == ["v1"]


def test_update_dataset_entries_wait(cli, gateway):
    gateway.on("UpdateDatasetEntries", pb.UpdateDatasetEntriesResponse())
    states = iter([_dataset("UPDATE_IN_PROGRESS"), _dataset("UPDATE_COMPLETE")])
    gateway.on("DescribeDataset", lambda request, context: next(states))
    result = cli("--endpoint", gateway.address, "update-dataset-entries", "--dataset-arn",
                 "arn:d", "--changes", """GroundTruth='{"a":1}'""", "--wait", "--wait-delay", "0")
    assert result.code == 0, result.err
    assert len(gateway.requests("DescribeDataset")) == 2


def test_distribute_wait_polls_both_datasets(cli, gateway):
    gateway.on("DistributeDatasetEntries", pb.DistributeDatasetEntriesResponse())
    gateway.on("DescribeDataset", _dataset("UPDATE_COMPLETE"))
    result = cli("--endpoint", gateway.address, "distribute-dataset-entries", "--datasets",
                 "Arn=arn:train", "Arn=arn:test", "--wait", "--wait-delay", "0")
    assert result.code == 0, result.err
    assert [r.dataset_arn for r in gateway.requests("DescribeDataset")] == [
        "arn:train", "arn:test"]


# -- create-dataset --manifest -------------------------------------------------------------------

def test_manifest_chunks_keep_whole_lines_under_the_limit():
    lines = [b'{"source-ref":"s3://b/%d.jpg"}' % i for i in range(10)]
    data = b"\n".join(lines[:5]) + b"\n\n  \n" + b"\r\n".join(lines[5:]) + b"\n"
    chunks = list(manifest_chunks(data, limit=70))
    assert all(len(c) <= 70 for c in chunks)
    assert b"\n".join(chunks).split(b"\n") == lines
    assert list(manifest_chunks(b"")) == []
    with pytest.raises(ParamError, match="line 2"):
        list(manifest_chunks(b"{}\n" + b"x" * 71, limit=70))


def test_manifest_s3_uri_becomes_the_dataset_source(cli, gateway):
    gateway.on("CreateDataset", pb.CreateDatasetResponse(dataset_arn="arn:d"))
    result = cli("--endpoint", gateway.address, "create-dataset", "--project-arn", "arn:p",
                 "--dataset-type", "TRAIN", "--manifest", "s3://bucket/path/train.manifest")
    assert json.loads(result.out) == {"DatasetArn": "arn:d"}
    (request,) = gateway.requests("CreateDataset")
    s3 = request.dataset_source.ground_truth_manifest.s3_object
    assert (s3.bucket, s3.name) == ("bucket", "path/train.manifest")
    assert gateway.requests("DescribeDataset") == []  # no --wait, no polling


def test_local_manifest_creates_empty_then_updates_in_chunks(cli, gateway, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr("labelgate.cli._commands.MAX_CHANGES_BYTES", 64)
    lines = [b'{"source-ref":"s3://b/%d.jpg"}' % i for i in range(6)]
    manifest = tmp_path / "train.manifest"
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    gateway.on("CreateDataset", pb.CreateDatasetResponse(dataset_arn="arn:d"))
    gateway.on("UpdateDatasetEntries", pb.UpdateDatasetEntriesResponse())

    def describe(request, context):
        # CREATE_COMPLETE until the first update, then UPDATE_COMPLETE.
        updated = gateway.requests("UpdateDatasetEntries")
        return _dataset("UPDATE_COMPLETE" if updated else "CREATE_COMPLETE")

    gateway.on("DescribeDataset", describe)
    result = cli("--endpoint", gateway.address, "create-dataset", "--project-arn", "arn:p",
                 "--dataset-type", "TRAIN", "--manifest", str(manifest), "--wait-delay", "0")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"DatasetArn": "arn:d"}
    (create,) = gateway.requests("CreateDataset")
    assert not create.HasField("dataset_source")
    updates = gateway.requests("UpdateDatasetEntries")
    assert len(updates) == 3
    assert all(len(u.changes.ground_truth) <= 64 for u in updates)
    assert b"\n".join(u.changes.ground_truth for u in updates).split(b"\n") == lines
    operations = [op for op, _, _ in gateway.calls]
    assert operations == ["CreateDataset", "DescribeDataset"] + [
        "UpdateDatasetEntries", "DescribeDataset"] * 3


def test_local_manifest_that_cannot_be_read_fails_before_creating(cli, gateway, tmp_path):
    result = cli("--endpoint", gateway.address, "create-dataset", "--project-arn", "arn:p",
                 "--dataset-type", "TRAIN", "--manifest", str(tmp_path / "missing.manifest"))
    assert result.code == EXIT_PARAM
    assert gateway.calls == []


def test_manifest_and_dataset_source_conflict(cli, gateway):
    result = cli("--endpoint", gateway.address, "create-dataset", "--project-arn", "arn:p",
                 "--dataset-type", "TRAIN", "--manifest", "s3://b/k",
                 "--dataset-source", "DatasetArn=arn:x")
    assert result.code == EXIT_PARAM and "together" in result.err


# -- serve ---------------------------------------------------------------------------------------

def test_serve_passes_options_to_load_settings_and_run(cli, monkeypatch):
    seen: dict = {}
    config = types.ModuleType("labelgate.server.config")
    app = types.ModuleType("labelgate.server.app")

    def load_settings(config_path=None, *, env=None, **overrides):
        seen["load"] = (config_path, overrides)
        return "SETTINGS"

    config.load_settings = load_settings
    app.run = lambda settings: seen.setdefault("run", settings)
    monkeypatch.setitem(sys.modules, "labelgate.server.config", config)
    monkeypatch.setitem(sys.modules, "labelgate.server.app", app)
    result = cli("serve", "--config", "c.toml", "--port", "6000", "--data-dir", "/d",
                 "--aws-port", "8080")
    assert result.code == 0, result.err
    assert seen["load"] == ("c.toml", {"host": None, "port": 6000, "data_dir": "/d",
                                       "metrics_port": None, "aws_port": 8080})
    assert seen["run"] == "SETTINGS"


def test_client_commands_do_not_import_server_code(tmp_path):
    import subprocess
    code = ("import sys; from labelgate.cli.main import main; "
            "main(['describe-projects', '--endpoint', '127.0.0.1:1', '--cli-read-timeout', '1']);"
            "print(any(m.startswith('labelgate.server') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# -- pagination ----------------------------------------------------------------------------------

def _paged_projects(request, context):
    pages = {"": (["p1", "p2"], "t1"), "t1": (["p3"], None)}
    names, token = pages[request.next_token]
    response = pb.DescribeProjectsResponse(project_descriptions=[
        pb.ProjectDescription(project_arn=f"arn:{n}") for n in names])
    if token:
        response.next_token = token
    return response


def test_paginated_commands_print_every_page_merged(cli, gateway):
    gateway.on("DescribeProjects", _paged_projects)
    result = cli("--endpoint", gateway.address, "describe-projects")
    assert json.loads(result.out) == {"ProjectDescriptions": [
        {"ProjectArn": f"arn:p{i}", "Datasets": []} for i in (1, 2, 3)]}


@pytest.mark.parametrize("option", [("--no-paginate",), ("--max-results", "2"),
                                    ("--next-token", "")])
def test_paging_options_turn_auto_pagination_off(cli, gateway, option):
    gateway.on("DescribeProjects", _paged_projects)
    result = cli("--endpoint", gateway.address, "describe-projects", *option)
    assert result.code == 0, result.err
    assert json.loads(result.out)["NextToken"] == "t1"
    assert len(gateway.requests("DescribeProjects")) == 1


# -- --query and --output text -------------------------------------------------------------------

def _two_projects(request, context):
    return pb.DescribeProjectsResponse(project_descriptions=[
        pb.ProjectDescription(project_arn="arn:a", status=pb.PROJECT_STATUS_CREATED,
                              datasets=[pb.DatasetMetadata(dataset_arn="arn:a/train",
                                                           dataset_type=pb.DATASET_TYPE_TRAIN)]),
        pb.ProjectDescription(project_arn="arn:b", status=pb.PROJECT_STATUS_CREATING)])


def test_query_narrows_the_output(cli, gateway):
    gateway.on("DescribeProjects", _two_projects)
    base = ("--endpoint", gateway.address, "describe-projects", "--query")
    first = cli(*base, "ProjectDescriptions[0].ProjectArn")
    assert first.out == '"arn:a"\n'
    text = cli(*base, "ProjectDescriptions[0].ProjectArn", "--output", "text")
    assert text.out == "arn:a\n"
    filtered = cli(*base, "ProjectDescriptions[0].Datasets[?DatasetType=='TRAIN'].DatasetArn"
                   " | [0]", "--output", "text")
    assert filtered.out == "arn:a/train\n"
    listing = cli(*base, "ProjectDescriptions[].ProjectArn", "--output", "text")
    assert listing.out == "arn:a\tarn:b\n"


def test_text_output_follows_the_aws_cli_layout(cli, gateway):
    gateway.on("DescribeProjects", _two_projects)
    result = cli("--endpoint", gateway.address, "describe-projects", "--output", "text")
    # Scalars of each object on one line (keys sorted), nested lists under their name.
    assert result.out.splitlines() == [
        "PROJECTDESCRIPTIONS\tarn:a\tCREATED",
        "DATASETS\tarn:a/train\tTRAIN",
        "PROJECTDESCRIPTIONS\tarn:b\tCREATING",
    ]


def test_bad_query_is_a_parameter_error_before_any_call(cli, gateway):
    result = cli("--endpoint", gateway.address, "create-project", "--project-name", "p",
                 "--query", "ProjectArn[")
    assert result.code == EXIT_PARAM
    assert result.err.startswith("Bad value for --query ProjectArn[")
    assert gateway.calls == []
