"""The synchronous labelgate client: one typed method per Custom Labels operation.

    from labelgate.client import Client

    with Client("127.0.0.1:50051") as client:
        arn = client.create_project(project_name="widgets").project_arn
        client.create_dataset(project_arn=arn, dataset_type="TRAIN", dataset_source={
            "GroundTruthManifest": {"S3Object": {"Bucket": "b", "Name": "train.manifest"}}})

Methods take keyword-only parameters named after the request fields (AWS members in
snake_case) and return the response message from `labelgate.v1.custom_labels_pb2`. `call()`
speaks AWS-shaped dicts instead, like a boto3 client. Every failure is a
`labelgate.errors.LabelgateError` subclass named as AWS names it.

Three labelgate extensions have no AWS counterpart (server-streaming RPCs):

    for state in client.watch_project_version(version_arn):    # training progress
        print(state.stage, state.epoch, state.total_epochs, state.loss)
    client.export_project_version(version_arn, "model.zip")      # the trained model
    for model in client.get_inference_usage(hourly=True):         # inference-unit hours
        print(model.version_name, model.hours_running, model.inference_unit_hours)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import grpc
from google.protobuf.message import Message

from labelgate import shapes
from labelgate.client._credentials import SigningInterceptor, find_credentials
from labelgate.client._errors import REQUEST_ID_METADATA_KEY, raise_rpc_error
from labelgate.client._options import ClientOptions
from labelgate.client._request import build_request
from labelgate.client._types import (
    AwsDict,
    CustomizationFeature,
    DatasetType,
    Metadata,
    ProjectAutoUpdate,
    Tags,
)
from labelgate.client._waiters import WAITERS, wait
from labelgate.request_signing import Credentials
from labelgate.v1 import custom_labels_pb2 as pb
from labelgate.v1 import custom_labels_pb2_grpc as pb_grpc

BACKEND_METADATA_KEY = "x-labelgate-backend"
DEFAULT_TARGET = "127.0.0.1:50051"

_log = logging.getLogger("labelgate.client")

#: Paginated operations and the member that holds their results (botocore's
#: paginators-1.json; all use NextToken in and out, MaxResults as the page size).
PAGINATED: dict[str, str] = {
    "DescribeProjects": "ProjectDescriptions",
    "DescribeProjectVersions": "ProjectVersionDescriptions",
    "ListDatasetEntries": "DatasetEntries",
    "ListDatasetLabels": "DatasetLabelDescriptions",
    "ListProjectPolicies": "ProjectPolicies",
}
_R = TypeVar("_R", bound=Message)


def _operation_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for op in shapes.OPERATIONS:
        snake = shapes.snake_operation(op)
        names.update({op: op, snake: op, snake.replace("_", "-"): op})
    return names


_OPERATION_NAMES = _operation_names()


def operation_name(name: str) -> str:
    """`CreateProject`, `create_project` or `create-project` -> `CreateProject`."""
    try:
        return _OPERATION_NAMES[name]
    except KeyError:
        raise ValueError(f"Unknown operation {name!r}; expected one of "
                         f"{', '.join(shapes.OPERATIONS)}") from None


def _version_list(version_names: Sequence[str] | str | None) -> list[str] | None:
    if version_names is None:
        return None
    return [version_names] if isinstance(version_names, str) else list(version_names)


class Client:
    """A client of a labelgate gateway (service `labelgate.v1.CustomLabels`).

    `target` is `host:port`. `options` sets deadlines, message sizes, keepalive, default
    metadata and TLS (see `ClientOptions`). `metadata` is added to every call, after
    `options.metadata`. `backend` names the backend that creates go to (metadata
    `x-labelgate-backend`); calls on an existing ARN always go to the backend that owns it.
    `credentials` signs every call with an access key: by default (`"auto"`) the key boto3
    would use (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else `AWS_PROFILE` in
    `AWS_SHARED_CREDENTIALS_FILE`); None sends unsigned calls.

    Thread-safety: a Client holds one gRPC channel and no other mutable state, so one
    instance may be shared by any number of threads; calls run concurrently over the
    channel. Close it (or use it as a context manager) to release the channel.
    """

    def __init__(self, target: str = DEFAULT_TARGET, *, options: ClientOptions | None = None,
                 metadata: Metadata | None = None, backend: str | None = None,
                 credentials: Credentials | Literal["auto"] | None = "auto") -> None:
        self._target = target
        self._options = options or ClientOptions()
        pairs: dict[str, str] = {k.lower(): v for k, v in self._options.metadata.items()}
        extra = metadata.items() if isinstance(metadata, Mapping) else (metadata or ())
        pairs.update({k.lower(): v for k, v in extra})
        if backend:
            pairs[BACKEND_METADATA_KEY] = backend
        self._metadata: tuple[tuple[str, str], ...] = tuple(pairs.items())
        channel_args = self._options.channel_arguments()
        if self._options.credentials is not None:
            self._channel = grpc.secure_channel(target, self._options.credentials,
                                                options=channel_args)
        else:
            self._channel = grpc.insecure_channel(target, options=channel_args)
        if credentials == "auto":
            credentials = find_credentials()
        if credentials is not None:
            # Every call signed with the access key; the secret never travels.
            self._channel = grpc.intercept_channel(self._channel,
                                                   SigningInterceptor(credentials))
        self._stub = pb_grpc.CustomLabelsStub(self._channel)
        self._closed = False

    @property
    def target(self) -> str:
        """The endpoint this client talks to, as given."""
        return self._target

    @property
    def options(self) -> ClientOptions:
        return self._options

    def close(self) -> None:
        """Close the channel; calls in flight are cancelled. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self._target!r})"

    # -- the one path every call takes -----------------------------------------------------

    def _send(self, operation: str, request: Message,
              timeout: float | None) -> tuple[Message, str | None]:
        if self._closed:
            raise RuntimeError("This labelgate Client is closed")
        method = getattr(self._stub, operation)
        deadline = self._options.timeout if timeout is None else timeout
        try:
            response, call = method.with_call(request, timeout=deadline,
                                              metadata=self._metadata)
        except grpc.RpcError as err:
            _log.debug("%s failed: %s", operation, err)
            raise_rpc_error(err, endpoint=self._target, operation=operation)
        request_id = None
        for key, value in call.initial_metadata() or ():
            if key == REQUEST_ID_METADATA_KEY:
                request_id = value
        _log.debug("%s ok (request id %s)", operation, request_id)
        return response, request_id

    def _invoke(self, operation: str, timeout: float | None, **fields: Any) -> Any:
        request_type, _ = shapes.operation_types(operation)
        response, _ = self._send(operation, build_request(request_type, fields), timeout)
        return response

    def call(self, operation: str, params: Mapping[str, Any] | None = None, *,
             timeout: float | None = None) -> dict[str, Any]:
        """Run an operation with an AWS-shaped request dict; return an AWS-shaped dict.

        `operation` is the AWS name (`CreateProject`) or its snake/kebab form. Timestamps in
        the result are `datetime`s and blobs `bytes`, as boto3 returns them, and
        `ResponseMetadata.RequestId` carries the request id.
        """
        op = operation_name(operation)
        request_type, _ = shapes.operation_types(op)
        request = shapes.from_aws(dict(params or {}), request_type)
        response, request_id = self._send(op, request, timeout)
        result = shapes.to_aws(response, include_empty=True)
        result["ResponseMetadata"] = {"RequestId": request_id}
        return result

    def paginate(self, operation: str, params: Mapping[str, Any] | None = None, *,
                 timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield every page of a paginated operation as `call()` returns it, following
        NextToken from `params["NextToken"]` (or the start) to the last page."""
        op = operation_name(operation)
        if op not in PAGINATED:
            raise ValueError(f"{op} is not paginated; paginated: {', '.join(PAGINATED)}")
        request = dict(params or {})
        while True:
            page = self.call(op, request, timeout=timeout)
            yield page
            token = page.get("NextToken")
            if not token:
                return
            request["NextToken"] = token

    # -- labelgate extensions (server streaming) -----------------------------------------------

    def _stream(self, operation: str, request: Message, timeout: float | None
                ) -> Iterator[Any]:
        if self._closed:
            raise RuntimeError("This labelgate Client is closed")
        call = getattr(self._stub, operation)(request, timeout=timeout,
                                              metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as err:
            _log.debug("%s failed: %s", operation, err)
            raise_rpc_error(err, endpoint=self._target, operation=operation)
        finally:
            call.cancel()  # a no-op once the stream has ended; frees it if the caller stops

    def watch_project_version(self, project_version_arn: str, *,
                              timeout: float | None = None
                              ) -> Iterator[pb.WatchProjectVersionResponse]:
        """Extension: a model version's training progress as it happens.

        Yields the state at once, then one message per change (stage, epoch, loss,
        validation metric, ETA) and a heartbeat now and then, and ends after the message
        whose status is no longer TRAINING_IN_PROGRESS. `timeout` bounds the whole stream
        (default: none, training can take hours). ResourceNotFoundException for an unknown
        version, raised when iteration starts.
        """
        request = pb.WatchProjectVersionRequest(project_version_arn=project_version_arn)
        return self._stream("WatchProjectVersion", request, timeout)

    def export_project_version(
        self,
        project_version_arn: str,
        destination: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Extension: download a trained model's bundle, a zip of model.onnx, model.json, the
        evaluation summary and the evaluation report.

        `destination` is the file to write, or an existing directory to write the server's
        file name (`{project}-{version}.zip`) into. The file appears only once complete.
        `on_progress(bytes_so_far, total_bytes)` is called per chunk. Returns the path
        written. ResourceNotReadyException when the version has no trained model.
        """
        request = pb.ExportProjectVersionRequest(project_version_arn=project_version_arn)
        target = Path(destination)
        part: Path | None = None
        out = None
        received, total = 0, None
        try:
            for chunk in self._stream("ExportProjectVersion", request, timeout):
                if out is None:
                    if target.is_dir():
                        target = target / (chunk.file_name or "model.zip")
                    part = target.with_name(target.name + ".part")
                    out = part.open("wb")
                if chunk.HasField("total_bytes"):
                    total = chunk.total_bytes
                out.write(chunk.data)
                received += len(chunk.data)
                if on_progress is not None:
                    on_progress(received, total)
            if out is None:
                raise ConnectionError("ExportProjectVersion ended without sending anything")
            out.close()
            if total is not None and received != total:
                raise ConnectionError(f"ExportProjectVersion sent {received} of {total} bytes")
            assert part is not None
            os.replace(part, target)
            part = None
        finally:
            if out is not None and not out.closed:
                out.close()
            if part is not None:
                part.unlink(missing_ok=True)
        return target

    def get_inference_usage(
        self,
        *,
        project_arn: str | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        hourly: bool = False,
        timeout: float | None = None,
    ) -> list[pb.GetInferenceUsageResponse]:
        """Extension: hours running and inference-unit hours per model over a time range
        (default: the 30 days before `end_time`, which defaults to now), with per-hour
        datapoints when `hourly`. Naive datetimes are taken as UTC."""
        request = pb.GetInferenceUsageRequest(hourly=hourly)
        if project_arn is not None:
            request.project_arn = project_arn
        for field, value in (("start_time", start_time), ("end_time", end_time)):
            if value is not None:
                if value.tzinfo is None:
                    value = value.replace(tzinfo=dt.UTC)
                getattr(request, field).FromDatetime(value)
        return list(self._stream("GetInferenceUsage", request, timeout))

    # -- waiters ------------------------------------------------------------------------------

    def _wait(self, name: str, describe: Callable[[], _R], delay: float,
              max_attempts: int) -> _R:
        return wait(WAITERS[name], describe, delay=delay, max_attempts=max_attempts)

    def _describe_versions(self, project_arn: str,
                           version_names: list[str] | None) -> pb.DescribeProjectVersionsResponse:
        # Follow every page so "all versions" means all of them, not the first 100.
        merged = pb.DescribeProjectVersionsResponse()
        token: str | None = None
        while True:
            page = self.describe_project_versions(project_arn=project_arn,
                                                  version_names=version_names, next_token=token)
            merged.project_version_descriptions.extend(page.project_version_descriptions)
            token = page.next_token if page.HasField("next_token") else None
            if not token:
                return merged

    def wait_dataset_created(self, dataset_arn: str, *, delay: float = 5,
                             max_attempts: int = 360) -> pb.DescribeDatasetResponse:
        """Poll DescribeDataset until CREATE_COMPLETE; WaiterError on CREATE_FAILED."""
        return self._wait("DatasetCreated",
                          lambda: self.describe_dataset(dataset_arn=dataset_arn),
                          delay, max_attempts)

    def wait_dataset_updated(self, dataset_arn: str, *, delay: float = 5,
                             max_attempts: int = 360) -> pb.DescribeDatasetResponse:
        """Poll DescribeDataset until UPDATE_COMPLETE; WaiterError on UPDATE_FAILED."""
        return self._wait("DatasetUpdated",
                          lambda: self.describe_dataset(dataset_arn=dataset_arn),
                          delay, max_attempts)

    def wait_training_completed(self, project_arn: str,
                                version_names: Sequence[str] | str | None = None, *,
                                delay: float = 120, max_attempts: int = 360
                                ) -> pb.DescribeProjectVersionsResponse:
        """boto3's `project_version_training_completed`: every named version (all versions
        when `version_names` is None) TRAINING_COMPLETED; any TRAINING_FAILED fails."""
        names = _version_list(version_names)
        return self._wait("ProjectVersionTrainingCompleted",
                          lambda: self._describe_versions(project_arn, names),
                          delay, max_attempts)

    def wait_running(self, project_arn: str, version_names: Sequence[str] | str | None = None,
                     *, delay: float = 30, max_attempts: int = 40
                     ) -> pb.DescribeProjectVersionsResponse:
        """boto3's `project_version_running`: every named version RUNNING; any FAILED fails."""
        names = _version_list(version_names)
        return self._wait("ProjectVersionRunning",
                          lambda: self._describe_versions(project_arn, names),
                          delay, max_attempts)

    def wait_stopped(self, project_arn: str, version_names: Sequence[str] | str | None = None,
                     *, delay: float = 30, max_attempts: int = 40
                     ) -> pb.DescribeProjectVersionsResponse:
        """Every named version STOPPED; any FAILED fails (labelgate's own waiter)."""
        names = _version_list(version_names)
        return self._wait("ProjectVersionStopped",
                          lambda: self._describe_versions(project_arn, names),
                          delay, max_attempts)

    # -- the 23 operations (generated once from the proto; tests keep them in step) ----------

    def create_project(
        self,
        *,
        project_name: str,
        feature: CustomizationFeature | None = None,
        auto_update: ProjectAutoUpdate | None = None,
        tags: Tags | None = None,
        timeout: float | None = None,
    ) -> pb.CreateProjectResponse:
        """Creates a project, the container for one use case's datasets and models."""
        return self._invoke(
            "CreateProject",
            timeout,
            project_name=project_name,
            feature=feature,
            auto_update=auto_update,
            tags=tags,
        )

    def describe_projects(
        self,
        *,
        next_token: str | None = None,
        max_results: int | None = None,
        project_names: Sequence[str] | None = None,
        features: Sequence[CustomizationFeature] | None = None,
        timeout: float | None = None,
    ) -> pb.DescribeProjectsResponse:
        """Describes projects, optionally filtered by name and feature; paginated."""
        return self._invoke(
            "DescribeProjects",
            timeout,
            next_token=next_token,
            max_results=max_results,
            project_names=project_names,
            features=features,
        )

    def delete_project(
        self,
        *,
        project_arn: str,
        timeout: float | None = None,
    ) -> pb.DeleteProjectResponse:
        """Deletes a project; refused while it still holds models or datasets."""
        return self._invoke("DeleteProject", timeout, project_arn=project_arn)

    def create_project_version(
        self,
        *,
        project_arn: str,
        version_name: str,
        output_config: pb.OutputConfig | AwsDict,
        training_data: pb.TrainingData | AwsDict | None = None,
        testing_data: pb.TestingData | AwsDict | None = None,
        tags: Tags | None = None,
        kms_key_id: str | None = None,
        version_description: str | None = None,
        feature_config: pb.CustomizationFeatureConfig | AwsDict | None = None,
        training_budget_seconds: int | None = None,
        timeout: float | None = None,
    ) -> pb.CreateProjectVersionResponse:
        """Creates a model version from the project's datasets and begins training.

        `training_budget_seconds` (labelgate extension, 60 to 86400) caps this version's
        training time on the local backend in place of the gateway's
        `training_time_budget_seconds`; the AWS backend ignores it.
        """
        return self._invoke(
            "CreateProjectVersion",
            timeout,
            project_arn=project_arn,
            version_name=version_name,
            output_config=output_config,
            training_data=training_data,
            testing_data=testing_data,
            tags=tags,
            kms_key_id=kms_key_id,
            version_description=version_description,
            feature_config=feature_config,
            training_budget_seconds=training_budget_seconds,
        )

    def describe_project_versions(
        self,
        *,
        project_arn: str,
        version_names: Sequence[str] | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        timeout: float | None = None,
    ) -> pb.DescribeProjectVersionsResponse:
        """Describes a project's model versions: status, evaluation, outputs; paginated."""
        return self._invoke(
            "DescribeProjectVersions",
            timeout,
            project_arn=project_arn,
            version_names=version_names,
            next_token=next_token,
            max_results=max_results,
        )

    def start_project_version(
        self,
        *,
        project_version_arn: str,
        min_inference_units: int,
        max_inference_units: int | None = None,
        timeout: float | None = None,
    ) -> pb.StartProjectVersionResponse:
        """Starts serving a trained model with the given inference units."""
        return self._invoke(
            "StartProjectVersion",
            timeout,
            project_version_arn=project_version_arn,
            min_inference_units=min_inference_units,
            max_inference_units=max_inference_units,
        )

    def stop_project_version(
        self,
        *,
        project_version_arn: str,
        timeout: float | None = None,
    ) -> pb.StopProjectVersionResponse:
        """Stops a running model."""
        return self._invoke("StopProjectVersion", timeout, project_version_arn=project_version_arn)

    def delete_project_version(
        self,
        *,
        project_version_arn: str,
        timeout: float | None = None,
    ) -> pb.DeleteProjectVersionResponse:
        """Deletes a model version; refused while it is running or training."""
        return self._invoke(
            "DeleteProjectVersion",
            timeout,
            project_version_arn=project_version_arn,
        )

    def copy_project_version(
        self,
        *,
        source_project_arn: str,
        source_project_version_arn: str,
        destination_project_arn: str,
        version_name: str,
        output_config: pb.OutputConfig | AwsDict,
        tags: Tags | None = None,
        kms_key_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.CopyProjectVersionResponse:
        """Copies a trained model version into another project."""
        return self._invoke(
            "CopyProjectVersion",
            timeout,
            source_project_arn=source_project_arn,
            source_project_version_arn=source_project_version_arn,
            destination_project_arn=destination_project_arn,
            version_name=version_name,
            output_config=output_config,
            tags=tags,
            kms_key_id=kms_key_id,
        )

    def create_dataset(
        self,
        *,
        dataset_type: DatasetType,
        project_arn: str,
        dataset_source: pb.DatasetSource | AwsDict | None = None,
        tags: Tags | None = None,
        timeout: float | None = None,
    ) -> pb.CreateDatasetResponse:
        """Creates a TRAIN or TEST dataset: empty, from a manifest, or copied from a dataset."""
        return self._invoke(
            "CreateDataset",
            timeout,
            dataset_source=dataset_source,
            dataset_type=dataset_type,
            project_arn=project_arn,
            tags=tags,
        )

    def describe_dataset(
        self,
        *,
        dataset_arn: str,
        timeout: float | None = None,
    ) -> pb.DescribeDatasetResponse:
        """Describes a dataset: status, status message and entry/label statistics."""
        return self._invoke("DescribeDataset", timeout, dataset_arn=dataset_arn)

    def delete_dataset(
        self,
        *,
        dataset_arn: str,
        timeout: float | None = None,
    ) -> pb.DeleteDatasetResponse:
        """Deletes a dataset."""
        return self._invoke("DeleteDataset", timeout, dataset_arn=dataset_arn)

    def list_dataset_entries(
        self,
        *,
        dataset_arn: str,
        contains_labels: Sequence[str] | None = None,
        labeled: bool | None = None,
        source_ref_contains: str | None = None,
        has_errors: bool | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        timeout: float | None = None,
    ) -> pb.ListDatasetEntriesResponse:
        """Lists a dataset's JSON Lines entries, with label, error and source-ref filters."""
        return self._invoke(
            "ListDatasetEntries",
            timeout,
            dataset_arn=dataset_arn,
            contains_labels=contains_labels,
            labeled=labeled,
            source_ref_contains=source_ref_contains,
            has_errors=has_errors,
            next_token=next_token,
            max_results=max_results,
        )

    def list_dataset_labels(
        self,
        *,
        dataset_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        timeout: float | None = None,
    ) -> pb.ListDatasetLabelsResponse:
        """Lists the labels used in a dataset with their entry and box counts."""
        return self._invoke(
            "ListDatasetLabels",
            timeout,
            dataset_arn=dataset_arn,
            next_token=next_token,
            max_results=max_results,
        )

    def update_dataset_entries(
        self,
        *,
        dataset_arn: str,
        changes: pb.DatasetChanges | AwsDict,
        timeout: float | None = None,
    ) -> pb.UpdateDatasetEntriesResponse:
        """Adds entries to a dataset, or replaces those with the same source-ref."""
        return self._invoke(
            "UpdateDatasetEntries",
            timeout,
            dataset_arn=dataset_arn,
            changes=changes,
        )

    def distribute_dataset_entries(
        self,
        *,
        datasets: Sequence[pb.DistributeDataset | AwsDict],
        timeout: float | None = None,
    ) -> pb.DistributeDatasetEntriesResponse:
        """Moves 20% of the training dataset's entries into the empty test dataset."""
        return self._invoke("DistributeDatasetEntries", timeout, datasets=datasets)

    def detect_custom_labels(
        self,
        *,
        project_version_arn: str,
        image: pb.Image | AwsDict,
        max_results: int | None = None,
        min_confidence: float | None = None,
        timeout: float | None = None,
    ) -> pb.DetectCustomLabelsResponse:
        """Detects the model's custom labels in an image, using a running model."""
        return self._invoke(
            "DetectCustomLabels",
            timeout,
            project_version_arn=project_version_arn,
            image=image,
            max_results=max_results,
            min_confidence=min_confidence,
        )

    def put_project_policy(
        self,
        *,
        project_arn: str,
        policy_name: str,
        policy_document: str,
        policy_revision_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.PutProjectPolicyResponse:
        """Attaches or updates a resource policy on a project (model copy permissions)."""
        return self._invoke(
            "PutProjectPolicy",
            timeout,
            project_arn=project_arn,
            policy_name=policy_name,
            policy_revision_id=policy_revision_id,
            policy_document=policy_document,
        )

    def list_project_policies(
        self,
        *,
        project_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        timeout: float | None = None,
    ) -> pb.ListProjectPoliciesResponse:
        """Lists the policies attached to a project; paginated."""
        return self._invoke(
            "ListProjectPolicies",
            timeout,
            project_arn=project_arn,
            next_token=next_token,
            max_results=max_results,
        )

    def delete_project_policy(
        self,
        *,
        project_arn: str,
        policy_name: str,
        policy_revision_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.DeleteProjectPolicyResponse:
        """Deletes a project policy, optionally only at a given revision."""
        return self._invoke(
            "DeleteProjectPolicy",
            timeout,
            project_arn=project_arn,
            policy_name=policy_name,
            policy_revision_id=policy_revision_id,
        )

    def tag_resource(
        self,
        *,
        resource_arn: str,
        tags: Tags,
        timeout: float | None = None,
    ) -> pb.TagResourceResponse:
        """Adds tags to a project, model version or dataset."""
        return self._invoke("TagResource", timeout, resource_arn=resource_arn, tags=tags)

    def untag_resource(
        self,
        *,
        resource_arn: str,
        tag_keys: Sequence[str],
        timeout: float | None = None,
    ) -> pb.UntagResourceResponse:
        """Removes tags from a resource."""
        return self._invoke("UntagResource", timeout, resource_arn=resource_arn, tag_keys=tag_keys)

    def list_tags_for_resource(
        self,
        *,
        resource_arn: str,
        timeout: float | None = None,
    ) -> pb.ListTagsForResourceResponse:
        """Lists the tags of a resource."""
        return self._invoke("ListTagsForResource", timeout, resource_arn=resource_arn)
