"""Waiters behave like boto3's waiters-2.json acceptors."""

import pytest

from labelgate import errors
from labelgate.client import WAITERS, WaiterError
from labelgate.client._waiters import wait
from labelgate.v1 import custom_labels_pb2 as pb

DS = pb.DescribeDatasetResponse
PV = pb.DescribeProjectVersionsResponse


def dataset(status: str, message: str = "") -> pb.DescribeDatasetResponse:
    number = pb.DatasetStatus.Value("DATASET_STATUS_" + status)
    return DS(dataset_description=pb.DatasetDescription(status=number, status_message=message))


def versions(*statuses: str, message: str = "") -> pb.DescribeProjectVersionsResponse:
    return PV(project_version_descriptions=[
        pb.ProjectVersionDescription(
            project_version_arn=f"arn:v{i}",
            status=pb.ProjectVersionStatus.Value("PROJECT_VERSION_STATUS_" + s),
            status_message=message)
        for i, s in enumerate(statuses)])


class Script:
    """A describe function that returns the scripted responses in turn (the last repeats)."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = 0
        self.sleeps: list[float] = []

    def __call__(self):
        self.calls += 1
        return self.responses[min(self.calls, len(self.responses)) - 1]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_the_aws_waiters_copy_botocore():
    import botocore.session
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("rekognition", "waiters-2")["waiters"]
    for name in ("ProjectVersionTrainingCompleted", "ProjectVersionRunning"):
        ours, theirs = WAITERS[name], model[name]
        assert ours.operation == theirs["operation"]
        assert ours.delay == theirs["delay"]
        assert ours.max_attempts == theirs["maxAttempts"]
        assert [(a.state, a.matcher, a.expected, ours.argument) for a in ours.acceptors] == [
            (a["state"], a["matcher"], a["expected"], a["argument"]) for a in theirs["acceptors"]]


def test_dataset_created_succeeds_after_polling_with_the_delay():
    script = Script(dataset("CREATE_IN_PROGRESS"), dataset("CREATE_IN_PROGRESS"),
                    dataset("CREATE_COMPLETE"))
    result = wait(WAITERS["DatasetCreated"], script, delay=0.5, sleep=script.sleep)
    assert result.dataset_description.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert script.calls == 3
    assert script.sleeps == [0.5, 0.5]  # first poll at once, delay between polls only


def test_dataset_created_failure_raises_with_the_status_message():
    script = Script(dataset("CREATE_IN_PROGRESS"),
                    dataset("CREATE_FAILED", "The manifest file has no valid JSON lines."))
    with pytest.raises(WaiterError) as caught:
        wait(WAITERS["DatasetCreated"], script, delay=0, sleep=script.sleep)
    error = caught.value
    assert error.name == "DatasetCreated"
    assert "CREATE_FAILED" in error.message
    assert "The manifest file has no valid JSON lines." in error.message
    assert error.last_response.dataset_description.status == pb.DATASET_STATUS_CREATE_FAILED
    assert error.one_line().startswith("WaiterError: Waiter DatasetCreated failed")


def test_dataset_updated_waits_for_update_complete_and_fails_on_update_failed():
    ok = Script(dataset("UPDATE_IN_PROGRESS"), dataset("UPDATE_COMPLETE"))
    wait(WAITERS["DatasetUpdated"], ok, delay=0, sleep=ok.sleep)
    assert ok.calls == 2
    bad = Script(dataset("UPDATE_FAILED", "too many errors"))
    with pytest.raises(WaiterError, match="too many errors"):
        wait(WAITERS["DatasetUpdated"], bad, delay=0, sleep=bad.sleep)


def test_max_attempts_exceeded():
    script = Script(dataset("CREATE_IN_PROGRESS"))
    with pytest.raises(WaiterError, match="Max attempts exceeded") as caught:
        wait(WAITERS["DatasetCreated"], script, delay=0.01, max_attempts=3, sleep=script.sleep)
    assert script.calls == 3
    assert caught.value.reason == "Max attempts exceeded"
    assert "CREATE_IN_PROGRESS" in caught.value.message


def test_training_completed_needs_every_version():
    script = Script(versions("TRAINING_COMPLETED", "TRAINING_IN_PROGRESS"),
                    versions("TRAINING_COMPLETED", "TRAINING_COMPLETED"))
    wait(WAITERS["ProjectVersionTrainingCompleted"], script, delay=0, sleep=script.sleep)
    assert script.calls == 2


def test_any_failed_version_fails_the_waiter_naming_it():
    script = Script(versions("TRAINING_COMPLETED", "TRAINING_FAILED",
                             message="The training data has too few labels."))
    with pytest.raises(WaiterError) as caught:
        wait(WAITERS["ProjectVersionTrainingCompleted"], script, delay=0, sleep=script.sleep)
    assert "arn:v1" in caught.value.message
    assert "too few labels" in caught.value.message
    running = Script(versions("STARTING", "FAILED"))
    with pytest.raises(WaiterError, match="FAILED"):
        wait(WAITERS["ProjectVersionRunning"], running, delay=0, sleep=running.sleep)


def test_path_all_on_no_versions_never_succeeds():
    # boto3: an empty list matches no pathAll acceptor, so unknown names run out of attempts.
    script = Script(versions())
    with pytest.raises(WaiterError, match="Max attempts"):
        wait(WAITERS["ProjectVersionRunning"], script, delay=0, max_attempts=2,
             sleep=script.sleep)


def test_errors_from_describe_propagate_unchanged():
    def describe():
        raise errors.ResourceNotFoundException("no such dataset")

    with pytest.raises(errors.ResourceNotFoundException):
        wait(WAITERS["DatasetCreated"], describe, delay=0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        wait(WAITERS["DatasetCreated"], Script(dataset("CREATE_COMPLETE")), max_attempts=0)
    with pytest.raises(ValueError):
        wait(WAITERS["DatasetCreated"], Script(dataset("CREATE_COMPLETE")), delay=-1)


# -- the Client's waiter methods, against the fake gateway ------------------------------------

def test_client_wait_dataset_created(gateway, client):
    responses = iter([dataset("CREATE_IN_PROGRESS"), dataset("CREATE_COMPLETE")])
    gateway.on("DescribeDataset", lambda request, context: next(responses))
    result = client.wait_dataset_created("arn:d", delay=0.01)
    assert result.dataset_description.status == pb.DATASET_STATUS_CREATE_COMPLETE
    assert [r.dataset_arn for r in gateway.requests("DescribeDataset")] == ["arn:d", "arn:d"]


def test_client_wait_running_names_the_versions_and_follows_pages(gateway, client):
    def describe(request, context):
        if not request.next_token:
            page = versions("RUNNING")
            page.next_token = "page-2"
            return page
        return versions("RUNNING")

    gateway.on("DescribeProjectVersions", describe)
    result = client.wait_running("arn:p", "v1", delay=0)
    assert len(result.project_version_descriptions) == 2
    first, second = gateway.requests("DescribeProjectVersions")
    assert list(first.version_names) == ["v1"]  # a lone name is not split into letters
    assert second.next_token == "page-2"


def test_client_wait_stopped_and_training_failures(gateway, client):
    gateway.on("DescribeProjectVersions", versions("STOPPED"))
    client.wait_stopped("arn:p", ["v1"], delay=0)
    gateway.on("DescribeProjectVersions", versions("TRAINING_FAILED", message="bad data"))
    with pytest.raises(WaiterError, match="bad data"):
        client.wait_training_completed("arn:p", ["v1"], delay=0)
