"""The command line matches `aws rekognition`: commands, options, required options, values."""

import json

import botocore.session
import pytest
from botocore import xform_name

from labelgate import shapes
from labelgate.cli._model import commands
from labelgate.cli._params import ParamError
from labelgate.cli._parser import EXIT_PARAM, UsageError, build_parser, request_params

MODEL = botocore.session.get_session().get_service_model("rekognition")

# The smallest valid value of each required member, as typed on a command line.
SAMPLE = {
    "ProjectName": ["p"],
    "ProjectArn": ["arn:aws:rekognition:us-east-1:111122223333:project/p/1"],
    "VersionName": ["v1"],
    "OutputConfig": ["S3Bucket=bucket,S3KeyPrefix=out/"],
    "ProjectVersionArn": ["arn:aws:rekognition:us-east-1:111122223333:project/p/version/v/1"],
    "MinInferenceUnits": ["1"],
    "SourceProjectArn": ["arn:aws:rekognition:us-east-1:111122223333:project/p/1"],
    "SourceProjectVersionArn": [
        "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v/1"],
    "DestinationProjectArn": ["arn:aws:rekognition:us-east-1:111122223333:project/q/1"],
    "DatasetType": ["TRAIN"],
    "DatasetArn": ["arn:aws:rekognition:us-east-1:111122223333:project/p/dataset/train/1"],
    "Changes": ['{"GroundTruth": "{\\"source-ref\\": \\"s3://b/a.jpg\\"}"}'],
    "Datasets": ["Arn=arn:train", "Arn=arn:test"],
    "Image": ['{"S3Object": {"Bucket": "b", "Name": "a.jpg"}}'],
    "PolicyName": ["policy"],
    "PolicyDocument": ['{"Version": "2012-10-17"}'],
    "ResourceArn": ["arn:aws:rekognition:us-east-1:111122223333:project/p/1"],
    "Tags": ["k=v"],
    "TagKeys": ["k"],
}


def parse(*argv: str):
    ns = build_parser().parse_args(list(argv))
    return ns, request_params(ns)


def required_argv(operation: str, skip: str | None = None) -> list[str]:
    model = MODEL.operation_model(operation)
    argv = [xform_name(operation, "-")]
    for name in model.input_shape.required_members:
        if name != skip:
            argv += ["--" + xform_name(name, "-"), *SAMPLE[name]]
    return argv


def test_there_is_one_command_per_operation_named_as_the_aws_cli_names_it():
    assert [c.name for c in commands()] == [xform_name(op, "-") for op in shapes.OPERATIONS]
    assert len(commands()) == 23
    choices = build_parser()._subparsers._group_actions[0].choices
    for op in shapes.OPERATIONS:
        assert xform_name(op, "-") in choices


@pytest.mark.parametrize("command", commands(), ids=lambda c: c.name)
def test_options_are_the_aws_cli_options(command):
    parser = build_parser()._subparsers._group_actions[0].choices[command.name]
    options = {s for a in parser._actions for s in a.option_strings}
    for name, shape in MODEL.operation_model(command.operation).input_shape.members.items():
        assert "--" + xform_name(name, "-") in options
        if shape.type_name == "boolean":
            assert "--no-" + xform_name(name, "-") in options


@pytest.mark.parametrize("operation", shapes.OPERATIONS)
def test_required_options_are_enough_and_each_is_required(operation):
    _, params = parse(*required_argv(operation))
    required = MODEL.operation_model(operation).input_shape.required_members
    assert set(params) == set(required)
    for name in required:
        with pytest.raises(UsageError, match="required: --" + xform_name(name, "-")):
            parse(*required_argv(operation, skip=name))


def test_strings_integers_and_enums():
    _, params = parse("describe-projects", "--max-results", "5", "--next-token", "t",
                      "--features", "CUSTOM_LABELS")
    assert params == {"MaxResults": 5, "NextToken": "t", "Features": ["CUSTOM_LABELS"]}
    with pytest.raises(ParamError, match="integer"):
        parse("describe-projects", "--max-results", "five")
    with pytest.raises(ParamError, match="valid values: TRAIN, TEST"):
        parse("create-dataset", "--project-arn", "arn:p", "--dataset-type", "TRAINING")


def test_floats():
    _, params = parse("detect-custom-labels", "--project-version-arn", "arn:v",
                      "--image", "S3Object={Bucket=b,Name=k}", "--min-confidence", "50")
    assert params["MinConfidence"] == 50.0


def test_booleans_come_in_pairs():
    base = ("list-dataset-entries", "--dataset-arn", "arn:d")
    assert parse(*base, "--labeled")[1]["Labeled"] is True
    assert parse(*base, "--no-labeled")[1]["Labeled"] is False
    assert parse(*base, "--has-errors")[1]["HasErrors"] is True
    assert "Labeled" not in parse(*base)[1]


def test_lists_of_scalars_space_separated_or_json():
    _, spaced = parse("describe-projects", "--project-names", "a", "b")
    _, as_json = parse("describe-projects", "--project-names", '["a", "b"]')
    assert spaced["ProjectNames"] == as_json["ProjectNames"] == ["a", "b"]


def test_lists_of_structures_shorthand_or_json():
    _, short = parse("distribute-dataset-entries", "--datasets", "Arn=arn:a", "Arn=arn:b")
    _, js = parse("distribute-dataset-entries", "--datasets", '[{"Arn":"arn:a"},{"Arn":"arn:b"}]')
    assert short["Datasets"] == js["Datasets"] == [{"Arn": "arn:a"}, {"Arn": "arn:b"}]


def test_maps_json_or_shorthand():
    base = ("tag-resource", "--resource-arn", "arn:r")
    assert parse(*base, "--tags", '{"a": "1", "b": "2"}')[1]["Tags"] == {"a": "1", "b": "2"}
    assert parse(*base, "--tags", "a=1,b=2")[1]["Tags"] == {"a": "1", "b": "2"}
    assert parse(*base, "--tags", "a=1", "b=2")[1]["Tags"] == {"a": "1", "b": "2"}
    with pytest.raises(ParamError, match="Expected: '='"):
        parse(*base, "--tags", "a")


def test_structures_json_or_shorthand():
    source = '{"GroundTruthManifest":{"S3Object":{"Bucket":"b","Name":"k"}}}'
    base = ("create-dataset", "--project-arn", "arn:p", "--dataset-type", "TRAIN")
    _, js = parse(*base, "--dataset-source", source)
    _, short = parse(*base, "--dataset-source", "GroundTruthManifest={S3Object={Bucket=b,Name=k}}")
    assert js["DatasetSource"] == short["DatasetSource"] == json.loads(source)
    with pytest.raises(ParamError, match='Unknown parameter "Bucket"'):
        parse(*base, "--dataset-source", '{"Bucket": "b"}')
    with pytest.raises(ParamError, match="Invalid JSON"):
        parse(*base, "--dataset-source", "{not json")


def test_any_value_can_come_from_file(tmp_path):
    (tmp_path / "source.json").write_text('{"DatasetArn": "arn:src"}')
    (tmp_path / "policy.json").write_text('{"Version": "2012-10-17"}')
    _, params = parse("create-dataset", "--project-arn", "arn:p", "--dataset-type", "TEST",
                      "--dataset-source", f"file://{tmp_path / 'source.json'}")
    assert params["DatasetSource"] == {"DatasetArn": "arn:src"}
    _, params = parse("put-project-policy", "--project-arn", "arn:p", "--policy-name", "n",
                      "--policy-document", f"file://{tmp_path / 'policy.json'}")
    assert params["PolicyDocument"] == '{"Version": "2012-10-17"}'
    with pytest.raises(ParamError, match="Unable to load paramfile"):
        parse("describe-projects", "--next-token", f"file://{tmp_path / 'missing'}")


def test_blobs_take_fileb_raw_bytes_file_text_or_literal_text(tmp_path):
    manifest = tmp_path / "changes.jsonl"
    manifest.write_bytes(b'{"source-ref": "s3://b/\xc3\xa9.jpg"}\n')
    base = ("update-dataset-entries", "--dataset-arn", "arn:d", "--changes")
    _, raw = parse(*base, f"GroundTruth=fileb://{manifest}")
    assert raw["Changes"]["GroundTruth"] == manifest.read_bytes()
    _, text = parse(*base, json.dumps({"GroundTruth": f"file://{manifest}"}))
    assert text["Changes"]["GroundTruth"] == manifest.read_text()
    _, literal = parse(*base, '{"GroundTruth": "{\\"a\\": 1}"}')
    assert literal["Changes"]["GroundTruth"] == '{"a": 1}'


def test_image_bytes_from_a_file(tmp_path):
    image = tmp_path / "x.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0")
    _, params = parse("detect-custom-labels", "--project-version-arn", "arn:v",
                      "--image-bytes", f"fileb://{image}")
    assert params["Image"] == {"Bytes": b"\xff\xd8\xff\xe0"}
    with pytest.raises(ParamError, match="together"):
        parse("detect-custom-labels", "--project-version-arn", "arn:v", "--image-bytes",
              f"fileb://{image}", "--image", "S3Object={Bucket=b,Name=k}")


def test_cli_input_json_fills_required_members_and_options_override():
    _, params = parse("create-project", "--cli-input-json",
                      '{"ProjectName": "from-json", "Feature": "CUSTOM_LABELS"}',
                      "--project-name", "from-option")
    assert params == {"ProjectName": "from-option", "Feature": "CUSTOM_LABELS"}
    with pytest.raises(ParamError, match="Unknown parameter"):
        parse("create-project", "--cli-input-json", '{"Name": "x"}')


def test_global_options_go_before_or_after_the_command(monkeypatch):
    ns, _ = parse("--endpoint", "h:1", "describe-projects")
    assert ns.endpoint == "h:1"
    ns, _ = parse("describe-projects", "--endpoint", "h:2", "--backend", "aws", "--debug")
    assert (ns.endpoint, ns.backend, ns.debug) == ("h:2", "aws", True)
    monkeypatch.setenv("LABELGATE_ENDPOINT", "env:3")
    ns, _ = parse("describe-projects")
    assert ns.endpoint == "env:3"


def test_no_abbreviated_options():
    with pytest.raises(UsageError, match="unrecognized arguments: --project"):
        parse("create-project", "--project", "p")


def test_unknown_command_is_a_usage_error(cli):
    result = cli("detect-labels")
    assert result.code == EXIT_PARAM
    assert result.err.count("\n") == 1 and "invalid choice" in result.err


@pytest.mark.parametrize("waiter", ["dataset-created", "dataset-updated"])
def test_dataset_waiters_take_the_dataset_arn(waiter):
    ns, params = parse("wait", waiter, "--dataset-arn", "arn:d", "--delay", "0.5")
    assert params == {"DatasetArn": "arn:d"} and ns.delay == 0.5
    with pytest.raises(UsageError, match="wait " + waiter + ": error: .*--dataset-arn"):
        parse("wait", waiter)


@pytest.mark.parametrize("waiter", ["project-version-training-completed",
                                    "project-version-running", "project-version-stopped"])
def test_version_waiters_take_project_and_version_names(waiter):
    _, params = parse("wait", waiter, "--project-arn", "arn:p", "--version-names", "v1", "v2")
    assert params == {"ProjectArn": "arn:p", "VersionNames": ["v1", "v2"]}
    with pytest.raises(UsageError, match="--project-arn"):
        parse("wait", waiter, "--version-names", "v1")


def test_serve_options():
    ns = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "5", "--data-dir",
                                    "d", "--metrics-port", "0", "--config", "c.toml"])
    assert (ns.host, ns.port, ns.data_dir, ns.metrics_port, ns.config) == (
        "0.0.0.0", 5, "d", 0, "c.toml")


def test_training_budget_seconds_is_a_labelgate_option_of_create_project_version():
    argv = required_argv("CreateProjectVersion")
    _, params = parse(*argv, "--training-budget-seconds", "90")
    assert params["TrainingBudgetSeconds"] == 90
    assert "TrainingBudgetSeconds" not in parse(*argv)[1]
    # The range (60..86400) is the gateway's to check: the CLI reads an integer.
    assert parse(*argv, "--training-budget-seconds", "5")[1]["TrainingBudgetSeconds"] == 5
    with pytest.raises(UsageError, match="--training-budget-seconds: invalid int value"):
        parse(*argv, "--training-budget-seconds", "soon")
    with pytest.raises(UsageError, match="unrecognized arguments: --training-budget-seconds"):
        parse(*required_argv("CreateProject"), "--training-budget-seconds", "90")
