import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomizationFeature(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMIZATION_FEATURE_UNSPECIFIED: _ClassVar[CustomizationFeature]
    CUSTOMIZATION_FEATURE_CONTENT_MODERATION: _ClassVar[CustomizationFeature]
    CUSTOMIZATION_FEATURE_CUSTOM_LABELS: _ClassVar[CustomizationFeature]

class DatasetStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_STATUS_UNSPECIFIED: _ClassVar[DatasetStatus]
    DATASET_STATUS_CREATE_IN_PROGRESS: _ClassVar[DatasetStatus]
    DATASET_STATUS_CREATE_COMPLETE: _ClassVar[DatasetStatus]
    DATASET_STATUS_CREATE_FAILED: _ClassVar[DatasetStatus]
    DATASET_STATUS_UPDATE_IN_PROGRESS: _ClassVar[DatasetStatus]
    DATASET_STATUS_UPDATE_COMPLETE: _ClassVar[DatasetStatus]
    DATASET_STATUS_UPDATE_FAILED: _ClassVar[DatasetStatus]
    DATASET_STATUS_DELETE_IN_PROGRESS: _ClassVar[DatasetStatus]

class DatasetStatusMessageCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_STATUS_MESSAGE_CODE_UNSPECIFIED: _ClassVar[DatasetStatusMessageCode]
    DATASET_STATUS_MESSAGE_CODE_SUCCESS: _ClassVar[DatasetStatusMessageCode]
    DATASET_STATUS_MESSAGE_CODE_SERVICE_ERROR: _ClassVar[DatasetStatusMessageCode]
    DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR: _ClassVar[DatasetStatusMessageCode]

class DatasetType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_TYPE_UNSPECIFIED: _ClassVar[DatasetType]
    DATASET_TYPE_TRAIN: _ClassVar[DatasetType]
    DATASET_TYPE_TEST: _ClassVar[DatasetType]

class ProjectAutoUpdate(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_AUTO_UPDATE_UNSPECIFIED: _ClassVar[ProjectAutoUpdate]
    PROJECT_AUTO_UPDATE_ENABLED: _ClassVar[ProjectAutoUpdate]
    PROJECT_AUTO_UPDATE_DISABLED: _ClassVar[ProjectAutoUpdate]

class ProjectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_STATUS_UNSPECIFIED: _ClassVar[ProjectStatus]
    PROJECT_STATUS_CREATING: _ClassVar[ProjectStatus]
    PROJECT_STATUS_CREATED: _ClassVar[ProjectStatus]
    PROJECT_STATUS_DELETING: _ClassVar[ProjectStatus]

class ProjectVersionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_VERSION_STATUS_UNSPECIFIED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_TRAINING_COMPLETED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_TRAINING_FAILED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_STARTING: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_RUNNING: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_FAILED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_STOPPING: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_STOPPED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_DELETING: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_COPYING_IN_PROGRESS: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_COPYING_COMPLETED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_COPYING_FAILED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_DEPRECATED: _ClassVar[ProjectVersionStatus]
    PROJECT_VERSION_STATUS_EXPIRED: _ClassVar[ProjectVersionStatus]
CUSTOMIZATION_FEATURE_UNSPECIFIED: CustomizationFeature
CUSTOMIZATION_FEATURE_CONTENT_MODERATION: CustomizationFeature
CUSTOMIZATION_FEATURE_CUSTOM_LABELS: CustomizationFeature
DATASET_STATUS_UNSPECIFIED: DatasetStatus
DATASET_STATUS_CREATE_IN_PROGRESS: DatasetStatus
DATASET_STATUS_CREATE_COMPLETE: DatasetStatus
DATASET_STATUS_CREATE_FAILED: DatasetStatus
DATASET_STATUS_UPDATE_IN_PROGRESS: DatasetStatus
DATASET_STATUS_UPDATE_COMPLETE: DatasetStatus
DATASET_STATUS_UPDATE_FAILED: DatasetStatus
DATASET_STATUS_DELETE_IN_PROGRESS: DatasetStatus
DATASET_STATUS_MESSAGE_CODE_UNSPECIFIED: DatasetStatusMessageCode
DATASET_STATUS_MESSAGE_CODE_SUCCESS: DatasetStatusMessageCode
DATASET_STATUS_MESSAGE_CODE_SERVICE_ERROR: DatasetStatusMessageCode
DATASET_STATUS_MESSAGE_CODE_CLIENT_ERROR: DatasetStatusMessageCode
DATASET_TYPE_UNSPECIFIED: DatasetType
DATASET_TYPE_TRAIN: DatasetType
DATASET_TYPE_TEST: DatasetType
PROJECT_AUTO_UPDATE_UNSPECIFIED: ProjectAutoUpdate
PROJECT_AUTO_UPDATE_ENABLED: ProjectAutoUpdate
PROJECT_AUTO_UPDATE_DISABLED: ProjectAutoUpdate
PROJECT_STATUS_UNSPECIFIED: ProjectStatus
PROJECT_STATUS_CREATING: ProjectStatus
PROJECT_STATUS_CREATED: ProjectStatus
PROJECT_STATUS_DELETING: ProjectStatus
PROJECT_VERSION_STATUS_UNSPECIFIED: ProjectVersionStatus
PROJECT_VERSION_STATUS_TRAINING_IN_PROGRESS: ProjectVersionStatus
PROJECT_VERSION_STATUS_TRAINING_COMPLETED: ProjectVersionStatus
PROJECT_VERSION_STATUS_TRAINING_FAILED: ProjectVersionStatus
PROJECT_VERSION_STATUS_STARTING: ProjectVersionStatus
PROJECT_VERSION_STATUS_RUNNING: ProjectVersionStatus
PROJECT_VERSION_STATUS_FAILED: ProjectVersionStatus
PROJECT_VERSION_STATUS_STOPPING: ProjectVersionStatus
PROJECT_VERSION_STATUS_STOPPED: ProjectVersionStatus
PROJECT_VERSION_STATUS_DELETING: ProjectVersionStatus
PROJECT_VERSION_STATUS_COPYING_IN_PROGRESS: ProjectVersionStatus
PROJECT_VERSION_STATUS_COPYING_COMPLETED: ProjectVersionStatus
PROJECT_VERSION_STATUS_COPYING_FAILED: ProjectVersionStatus
PROJECT_VERSION_STATUS_DEPRECATED: ProjectVersionStatus
PROJECT_VERSION_STATUS_EXPIRED: ProjectVersionStatus

class CreateProjectRequest(_message.Message):
    __slots__ = ("project_name", "feature", "auto_update", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    AUTO_UPDATE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    project_name: str
    feature: CustomizationFeature
    auto_update: ProjectAutoUpdate
    tags: _containers.ScalarMap[str, str]
    def __init__(self, project_name: _Optional[str] = ..., feature: _Optional[_Union[CustomizationFeature, str]] = ..., auto_update: _Optional[_Union[ProjectAutoUpdate, str]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateProjectResponse(_message.Message):
    __slots__ = ("project_arn",)
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    def __init__(self, project_arn: _Optional[str] = ...) -> None: ...

class DescribeProjectsRequest(_message.Message):
    __slots__ = ("next_token", "max_results", "project_names", "features")
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PROJECT_NAMES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    max_results: int
    project_names: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedScalarFieldContainer[CustomizationFeature]
    def __init__(self, next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., project_names: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[_Union[CustomizationFeature, str]]] = ...) -> None: ...

class DatasetMetadata(_message.Message):
    __slots__ = ("creation_timestamp", "dataset_type", "dataset_arn", "status", "status_message", "status_message_code")
    CREATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DATASET_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    creation_timestamp: _timestamp_pb2.Timestamp
    dataset_type: DatasetType
    dataset_arn: str
    status: DatasetStatus
    status_message: str
    status_message_code: DatasetStatusMessageCode
    def __init__(self, creation_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dataset_type: _Optional[_Union[DatasetType, str]] = ..., dataset_arn: _Optional[str] = ..., status: _Optional[_Union[DatasetStatus, str]] = ..., status_message: _Optional[str] = ..., status_message_code: _Optional[_Union[DatasetStatusMessageCode, str]] = ...) -> None: ...

class ProjectDescription(_message.Message):
    __slots__ = ("project_arn", "creation_timestamp", "status", "datasets", "feature", "auto_update")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    AUTO_UPDATE_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    creation_timestamp: _timestamp_pb2.Timestamp
    status: ProjectStatus
    datasets: _containers.RepeatedCompositeFieldContainer[DatasetMetadata]
    feature: CustomizationFeature
    auto_update: ProjectAutoUpdate
    def __init__(self, project_arn: _Optional[str] = ..., creation_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[ProjectStatus, str]] = ..., datasets: _Optional[_Iterable[_Union[DatasetMetadata, _Mapping]]] = ..., feature: _Optional[_Union[CustomizationFeature, str]] = ..., auto_update: _Optional[_Union[ProjectAutoUpdate, str]] = ...) -> None: ...

class DescribeProjectsResponse(_message.Message):
    __slots__ = ("project_descriptions", "next_token")
    PROJECT_DESCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_descriptions: _containers.RepeatedCompositeFieldContainer[ProjectDescription]
    next_token: str
    def __init__(self, project_descriptions: _Optional[_Iterable[_Union[ProjectDescription, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DeleteProjectRequest(_message.Message):
    __slots__ = ("project_arn",)
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    def __init__(self, project_arn: _Optional[str] = ...) -> None: ...

class DeleteProjectResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ProjectStatus
    def __init__(self, status: _Optional[_Union[ProjectStatus, str]] = ...) -> None: ...

class OutputConfig(_message.Message):
    __slots__ = ("s3_bucket", "s3_key_prefix")
    S3_BUCKET_FIELD_NUMBER: _ClassVar[int]
    S3_KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    s3_bucket: str
    s3_key_prefix: str
    def __init__(self, s3_bucket: _Optional[str] = ..., s3_key_prefix: _Optional[str] = ...) -> None: ...

class S3Object(_message.Message):
    __slots__ = ("bucket", "name", "version")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    name: str
    version: str
    def __init__(self, bucket: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GroundTruthManifest(_message.Message):
    __slots__ = ("s3_object",)
    S3_OBJECT_FIELD_NUMBER: _ClassVar[int]
    s3_object: S3Object
    def __init__(self, s3_object: _Optional[_Union[S3Object, _Mapping]] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("ground_truth_manifest",)
    GROUND_TRUTH_MANIFEST_FIELD_NUMBER: _ClassVar[int]
    ground_truth_manifest: GroundTruthManifest
    def __init__(self, ground_truth_manifest: _Optional[_Union[GroundTruthManifest, _Mapping]] = ...) -> None: ...

class TrainingData(_message.Message):
    __slots__ = ("assets",)
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ...) -> None: ...

class TestingData(_message.Message):
    __slots__ = ("assets", "auto_create")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    AUTO_CREATE_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    auto_create: bool
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., auto_create: _Optional[bool] = ...) -> None: ...

class CustomizationFeatureContentModerationConfig(_message.Message):
    __slots__ = ("confidence_threshold",)
    CONFIDENCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    confidence_threshold: float
    def __init__(self, confidence_threshold: _Optional[float] = ...) -> None: ...

class CustomizationFeatureConfig(_message.Message):
    __slots__ = ("content_moderation",)
    CONTENT_MODERATION_FIELD_NUMBER: _ClassVar[int]
    content_moderation: CustomizationFeatureContentModerationConfig
    def __init__(self, content_moderation: _Optional[_Union[CustomizationFeatureContentModerationConfig, _Mapping]] = ...) -> None: ...

class CreateProjectVersionRequest(_message.Message):
    __slots__ = ("project_arn", "version_name", "output_config", "training_data", "testing_data", "tags", "kms_key_id", "version_description", "feature_config", "training_budget_seconds")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    VERSION_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_FIELD_NUMBER: _ClassVar[int]
    TESTING_DATA_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    KMS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAINING_BUDGET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    version_name: str
    output_config: OutputConfig
    training_data: TrainingData
    testing_data: TestingData
    tags: _containers.ScalarMap[str, str]
    kms_key_id: str
    version_description: str
    feature_config: CustomizationFeatureConfig
    training_budget_seconds: int
    def __init__(self, project_arn: _Optional[str] = ..., version_name: _Optional[str] = ..., output_config: _Optional[_Union[OutputConfig, _Mapping]] = ..., training_data: _Optional[_Union[TrainingData, _Mapping]] = ..., testing_data: _Optional[_Union[TestingData, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., kms_key_id: _Optional[str] = ..., version_description: _Optional[str] = ..., feature_config: _Optional[_Union[CustomizationFeatureConfig, _Mapping]] = ..., training_budget_seconds: _Optional[int] = ...) -> None: ...

class CreateProjectVersionResponse(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class DescribeProjectVersionsRequest(_message.Message):
    __slots__ = ("project_arn", "version_names", "next_token", "max_results")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    VERSION_NAMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    version_names: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    max_results: int
    def __init__(self, project_arn: _Optional[str] = ..., version_names: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ValidationData(_message.Message):
    __slots__ = ("assets",)
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ...) -> None: ...

class TrainingDataResult(_message.Message):
    __slots__ = ("input", "output", "validation")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    input: TrainingData
    output: TrainingData
    validation: ValidationData
    def __init__(self, input: _Optional[_Union[TrainingData, _Mapping]] = ..., output: _Optional[_Union[TrainingData, _Mapping]] = ..., validation: _Optional[_Union[ValidationData, _Mapping]] = ...) -> None: ...

class TestingDataResult(_message.Message):
    __slots__ = ("input", "output", "validation")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    input: TestingData
    output: TestingData
    validation: ValidationData
    def __init__(self, input: _Optional[_Union[TestingData, _Mapping]] = ..., output: _Optional[_Union[TestingData, _Mapping]] = ..., validation: _Optional[_Union[ValidationData, _Mapping]] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("s3_object",)
    S3_OBJECT_FIELD_NUMBER: _ClassVar[int]
    s3_object: S3Object
    def __init__(self, s3_object: _Optional[_Union[S3Object, _Mapping]] = ...) -> None: ...

class EvaluationResult(_message.Message):
    __slots__ = ("f1_score", "summary")
    F1_SCORE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    f1_score: float
    summary: Summary
    def __init__(self, f1_score: _Optional[float] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class ProjectVersionDescription(_message.Message):
    __slots__ = ("project_version_arn", "creation_timestamp", "min_inference_units", "status", "status_message", "billable_training_time_in_seconds", "training_end_timestamp", "output_config", "training_data_result", "testing_data_result", "evaluation_result", "manifest_summary", "kms_key_id", "max_inference_units", "source_project_version_arn", "version_description", "feature", "base_model_version", "feature_config", "inference_units_status")
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MIN_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_TRAINING_TIME_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_END_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_RESULT_FIELD_NUMBER: _ClassVar[int]
    TESTING_DATA_RESULT_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_RESULT_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    KMS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    VERSION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_UNITS_STATUS_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    creation_timestamp: _timestamp_pb2.Timestamp
    min_inference_units: int
    status: ProjectVersionStatus
    status_message: str
    billable_training_time_in_seconds: int
    training_end_timestamp: _timestamp_pb2.Timestamp
    output_config: OutputConfig
    training_data_result: TrainingDataResult
    testing_data_result: TestingDataResult
    evaluation_result: EvaluationResult
    manifest_summary: GroundTruthManifest
    kms_key_id: str
    max_inference_units: int
    source_project_version_arn: str
    version_description: str
    feature: CustomizationFeature
    base_model_version: str
    feature_config: CustomizationFeatureConfig
    inference_units_status: InferenceUnitsStatus
    def __init__(self, project_version_arn: _Optional[str] = ..., creation_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_inference_units: _Optional[int] = ..., status: _Optional[_Union[ProjectVersionStatus, str]] = ..., status_message: _Optional[str] = ..., billable_training_time_in_seconds: _Optional[int] = ..., training_end_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., output_config: _Optional[_Union[OutputConfig, _Mapping]] = ..., training_data_result: _Optional[_Union[TrainingDataResult, _Mapping]] = ..., testing_data_result: _Optional[_Union[TestingDataResult, _Mapping]] = ..., evaluation_result: _Optional[_Union[EvaluationResult, _Mapping]] = ..., manifest_summary: _Optional[_Union[GroundTruthManifest, _Mapping]] = ..., kms_key_id: _Optional[str] = ..., max_inference_units: _Optional[int] = ..., source_project_version_arn: _Optional[str] = ..., version_description: _Optional[str] = ..., feature: _Optional[_Union[CustomizationFeature, str]] = ..., base_model_version: _Optional[str] = ..., feature_config: _Optional[_Union[CustomizationFeatureConfig, _Mapping]] = ..., inference_units_status: _Optional[_Union[InferenceUnitsStatus, _Mapping]] = ...) -> None: ...

class InferenceUnitsStatus(_message.Message):
    __slots__ = ("in_service_inference_units", "desired_inference_units", "inference_unit_capacity", "runtime")
    IN_SERVICE_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    DESIRED_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_UNIT_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    in_service_inference_units: int
    desired_inference_units: int
    inference_unit_capacity: float
    runtime: str
    def __init__(self, in_service_inference_units: _Optional[int] = ..., desired_inference_units: _Optional[int] = ..., inference_unit_capacity: _Optional[float] = ..., runtime: _Optional[str] = ...) -> None: ...

class DescribeProjectVersionsResponse(_message.Message):
    __slots__ = ("project_version_descriptions", "next_token")
    PROJECT_VERSION_DESCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_version_descriptions: _containers.RepeatedCompositeFieldContainer[ProjectVersionDescription]
    next_token: str
    def __init__(self, project_version_descriptions: _Optional[_Iterable[_Union[ProjectVersionDescription, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class StartProjectVersionRequest(_message.Message):
    __slots__ = ("project_version_arn", "min_inference_units", "max_inference_units")
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    MIN_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    MAX_INFERENCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    min_inference_units: int
    max_inference_units: int
    def __init__(self, project_version_arn: _Optional[str] = ..., min_inference_units: _Optional[int] = ..., max_inference_units: _Optional[int] = ...) -> None: ...

class StartProjectVersionResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ProjectVersionStatus
    def __init__(self, status: _Optional[_Union[ProjectVersionStatus, str]] = ...) -> None: ...

class StopProjectVersionRequest(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class StopProjectVersionResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ProjectVersionStatus
    def __init__(self, status: _Optional[_Union[ProjectVersionStatus, str]] = ...) -> None: ...

class DeleteProjectVersionRequest(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class DeleteProjectVersionResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ProjectVersionStatus
    def __init__(self, status: _Optional[_Union[ProjectVersionStatus, str]] = ...) -> None: ...

class CopyProjectVersionRequest(_message.Message):
    __slots__ = ("source_project_arn", "source_project_version_arn", "destination_project_arn", "version_name", "output_config", "tags", "kms_key_id")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SOURCE_PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    VERSION_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    KMS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    source_project_arn: str
    source_project_version_arn: str
    destination_project_arn: str
    version_name: str
    output_config: OutputConfig
    tags: _containers.ScalarMap[str, str]
    kms_key_id: str
    def __init__(self, source_project_arn: _Optional[str] = ..., source_project_version_arn: _Optional[str] = ..., destination_project_arn: _Optional[str] = ..., version_name: _Optional[str] = ..., output_config: _Optional[_Union[OutputConfig, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., kms_key_id: _Optional[str] = ...) -> None: ...

class CopyProjectVersionResponse(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class DatasetSource(_message.Message):
    __slots__ = ("ground_truth_manifest", "dataset_arn")
    GROUND_TRUTH_MANIFEST_FIELD_NUMBER: _ClassVar[int]
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    ground_truth_manifest: GroundTruthManifest
    dataset_arn: str
    def __init__(self, ground_truth_manifest: _Optional[_Union[GroundTruthManifest, _Mapping]] = ..., dataset_arn: _Optional[str] = ...) -> None: ...

class CreateDatasetRequest(_message.Message):
    __slots__ = ("dataset_source", "dataset_type", "project_arn", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_SOURCE_FIELD_NUMBER: _ClassVar[int]
    DATASET_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    dataset_source: DatasetSource
    dataset_type: DatasetType
    project_arn: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, dataset_source: _Optional[_Union[DatasetSource, _Mapping]] = ..., dataset_type: _Optional[_Union[DatasetType, str]] = ..., project_arn: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateDatasetResponse(_message.Message):
    __slots__ = ("dataset_arn",)
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    def __init__(self, dataset_arn: _Optional[str] = ...) -> None: ...

class DescribeDatasetRequest(_message.Message):
    __slots__ = ("dataset_arn",)
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    def __init__(self, dataset_arn: _Optional[str] = ...) -> None: ...

class DatasetStats(_message.Message):
    __slots__ = ("labeled_entries", "total_entries", "total_labels", "error_entries")
    LABELED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LABELS_FIELD_NUMBER: _ClassVar[int]
    ERROR_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    labeled_entries: int
    total_entries: int
    total_labels: int
    error_entries: int
    def __init__(self, labeled_entries: _Optional[int] = ..., total_entries: _Optional[int] = ..., total_labels: _Optional[int] = ..., error_entries: _Optional[int] = ...) -> None: ...

class DatasetDescription(_message.Message):
    __slots__ = ("creation_timestamp", "last_updated_timestamp", "status", "status_message", "status_message_code", "dataset_stats")
    CREATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    DATASET_STATS_FIELD_NUMBER: _ClassVar[int]
    creation_timestamp: _timestamp_pb2.Timestamp
    last_updated_timestamp: _timestamp_pb2.Timestamp
    status: DatasetStatus
    status_message: str
    status_message_code: DatasetStatusMessageCode
    dataset_stats: DatasetStats
    def __init__(self, creation_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[DatasetStatus, str]] = ..., status_message: _Optional[str] = ..., status_message_code: _Optional[_Union[DatasetStatusMessageCode, str]] = ..., dataset_stats: _Optional[_Union[DatasetStats, _Mapping]] = ...) -> None: ...

class DescribeDatasetResponse(_message.Message):
    __slots__ = ("dataset_description",)
    DATASET_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    dataset_description: DatasetDescription
    def __init__(self, dataset_description: _Optional[_Union[DatasetDescription, _Mapping]] = ...) -> None: ...

class DeleteDatasetRequest(_message.Message):
    __slots__ = ("dataset_arn",)
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    def __init__(self, dataset_arn: _Optional[str] = ...) -> None: ...

class DeleteDatasetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDatasetEntriesRequest(_message.Message):
    __slots__ = ("dataset_arn", "contains_labels", "labeled", "source_ref_contains", "has_errors", "next_token", "max_results")
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABELED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    HAS_ERRORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    contains_labels: _containers.RepeatedScalarFieldContainer[str]
    labeled: bool
    source_ref_contains: str
    has_errors: bool
    next_token: str
    max_results: int
    def __init__(self, dataset_arn: _Optional[str] = ..., contains_labels: _Optional[_Iterable[str]] = ..., labeled: _Optional[bool] = ..., source_ref_contains: _Optional[str] = ..., has_errors: _Optional[bool] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListDatasetEntriesResponse(_message.Message):
    __slots__ = ("dataset_entries", "next_token")
    DATASET_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_entries: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, dataset_entries: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class ListDatasetLabelsRequest(_message.Message):
    __slots__ = ("dataset_arn", "next_token", "max_results")
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    next_token: str
    max_results: int
    def __init__(self, dataset_arn: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class DatasetLabelStats(_message.Message):
    __slots__ = ("entry_count", "bounding_box_count")
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    BOUNDING_BOX_COUNT_FIELD_NUMBER: _ClassVar[int]
    entry_count: int
    bounding_box_count: int
    def __init__(self, entry_count: _Optional[int] = ..., bounding_box_count: _Optional[int] = ...) -> None: ...

class DatasetLabelDescription(_message.Message):
    __slots__ = ("label_name", "label_stats")
    LABEL_NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_STATS_FIELD_NUMBER: _ClassVar[int]
    label_name: str
    label_stats: DatasetLabelStats
    def __init__(self, label_name: _Optional[str] = ..., label_stats: _Optional[_Union[DatasetLabelStats, _Mapping]] = ...) -> None: ...

class ListDatasetLabelsResponse(_message.Message):
    __slots__ = ("dataset_label_descriptions", "next_token")
    DATASET_LABEL_DESCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_label_descriptions: _containers.RepeatedCompositeFieldContainer[DatasetLabelDescription]
    next_token: str
    def __init__(self, dataset_label_descriptions: _Optional[_Iterable[_Union[DatasetLabelDescription, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DatasetChanges(_message.Message):
    __slots__ = ("ground_truth",)
    GROUND_TRUTH_FIELD_NUMBER: _ClassVar[int]
    ground_truth: bytes
    def __init__(self, ground_truth: _Optional[bytes] = ...) -> None: ...

class UpdateDatasetEntriesRequest(_message.Message):
    __slots__ = ("dataset_arn", "changes")
    DATASET_ARN_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    dataset_arn: str
    changes: DatasetChanges
    def __init__(self, dataset_arn: _Optional[str] = ..., changes: _Optional[_Union[DatasetChanges, _Mapping]] = ...) -> None: ...

class UpdateDatasetEntriesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DistributeDataset(_message.Message):
    __slots__ = ("arn",)
    ARN_FIELD_NUMBER: _ClassVar[int]
    arn: str
    def __init__(self, arn: _Optional[str] = ...) -> None: ...

class DistributeDatasetEntriesRequest(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[DistributeDataset]
    def __init__(self, datasets: _Optional[_Iterable[_Union[DistributeDataset, _Mapping]]] = ...) -> None: ...

class DistributeDatasetEntriesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Image(_message.Message):
    __slots__ = ("bytes", "s3_object")
    BYTES_FIELD_NUMBER: _ClassVar[int]
    S3_OBJECT_FIELD_NUMBER: _ClassVar[int]
    bytes: bytes
    s3_object: S3Object
    def __init__(self, bytes: _Optional[bytes] = ..., s3_object: _Optional[_Union[S3Object, _Mapping]] = ...) -> None: ...

class DetectCustomLabelsRequest(_message.Message):
    __slots__ = ("project_version_arn", "image", "max_results", "min_confidence")
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    image: Image
    max_results: int
    min_confidence: float
    def __init__(self, project_version_arn: _Optional[str] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., max_results: _Optional[int] = ..., min_confidence: _Optional[float] = ...) -> None: ...

class BoundingBox(_message.Message):
    __slots__ = ("width", "height", "left", "top")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    width: float
    height: float
    left: float
    top: float
    def __init__(self, width: _Optional[float] = ..., height: _Optional[float] = ..., left: _Optional[float] = ..., top: _Optional[float] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Geometry(_message.Message):
    __slots__ = ("bounding_box", "polygon")
    BOUNDING_BOX_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    bounding_box: BoundingBox
    polygon: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, bounding_box: _Optional[_Union[BoundingBox, _Mapping]] = ..., polygon: _Optional[_Iterable[_Union[Point, _Mapping]]] = ...) -> None: ...

class CustomLabel(_message.Message):
    __slots__ = ("name", "confidence", "geometry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    confidence: float
    geometry: Geometry
    def __init__(self, name: _Optional[str] = ..., confidence: _Optional[float] = ..., geometry: _Optional[_Union[Geometry, _Mapping]] = ...) -> None: ...

class DetectCustomLabelsResponse(_message.Message):
    __slots__ = ("custom_labels",)
    CUSTOM_LABELS_FIELD_NUMBER: _ClassVar[int]
    custom_labels: _containers.RepeatedCompositeFieldContainer[CustomLabel]
    def __init__(self, custom_labels: _Optional[_Iterable[_Union[CustomLabel, _Mapping]]] = ...) -> None: ...

class PutProjectPolicyRequest(_message.Message):
    __slots__ = ("project_arn", "policy_name", "policy_revision_id", "policy_document")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    policy_name: str
    policy_revision_id: str
    policy_document: str
    def __init__(self, project_arn: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_revision_id: _Optional[str] = ..., policy_document: _Optional[str] = ...) -> None: ...

class PutProjectPolicyResponse(_message.Message):
    __slots__ = ("policy_revision_id",)
    POLICY_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    policy_revision_id: str
    def __init__(self, policy_revision_id: _Optional[str] = ...) -> None: ...

class ListProjectPoliciesRequest(_message.Message):
    __slots__ = ("project_arn", "next_token", "max_results")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    next_token: str
    max_results: int
    def __init__(self, project_arn: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ProjectPolicy(_message.Message):
    __slots__ = ("project_arn", "policy_name", "policy_revision_id", "policy_document", "creation_timestamp", "last_updated_timestamp")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    policy_name: str
    policy_revision_id: str
    policy_document: str
    creation_timestamp: _timestamp_pb2.Timestamp
    last_updated_timestamp: _timestamp_pb2.Timestamp
    def __init__(self, project_arn: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_revision_id: _Optional[str] = ..., policy_document: _Optional[str] = ..., creation_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListProjectPoliciesResponse(_message.Message):
    __slots__ = ("project_policies", "next_token")
    PROJECT_POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_policies: _containers.RepeatedCompositeFieldContainer[ProjectPolicy]
    next_token: str
    def __init__(self, project_policies: _Optional[_Iterable[_Union[ProjectPolicy, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DeleteProjectPolicyRequest(_message.Message):
    __slots__ = ("project_arn", "policy_name", "policy_revision_id")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_ID_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    policy_name: str
    policy_revision_id: str
    def __init__(self, project_arn: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_revision_id: _Optional[str] = ...) -> None: ...

class DeleteProjectPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TagResourceRequest(_message.Message):
    __slots__ = ("resource_arn", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESOURCE_ARN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    resource_arn: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, resource_arn: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TagResourceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UntagResourceRequest(_message.Message):
    __slots__ = ("resource_arn", "tag_keys")
    RESOURCE_ARN_FIELD_NUMBER: _ClassVar[int]
    TAG_KEYS_FIELD_NUMBER: _ClassVar[int]
    resource_arn: str
    tag_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resource_arn: _Optional[str] = ..., tag_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class UntagResourceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTagsForResourceRequest(_message.Message):
    __slots__ = ("resource_arn",)
    RESOURCE_ARN_FIELD_NUMBER: _ClassVar[int]
    resource_arn: str
    def __init__(self, resource_arn: _Optional[str] = ...) -> None: ...

class ListTagsForResourceResponse(_message.Message):
    __slots__ = ("tags",)
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.ScalarMap[str, str]
    def __init__(self, tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchProjectVersionRequest(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class WatchProjectVersionResponse(_message.Message):
    __slots__ = ("project_version_arn", "status", "status_message", "stage", "epoch", "total_epochs", "loss", "metric_name", "metric_value", "eta_seconds", "elapsed_seconds", "message", "updated_timestamp")
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    METRIC_VALUE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    status: ProjectVersionStatus
    status_message: str
    stage: str
    epoch: int
    total_epochs: int
    loss: float
    metric_name: str
    metric_value: float
    eta_seconds: float
    elapsed_seconds: float
    message: str
    updated_timestamp: _timestamp_pb2.Timestamp
    def __init__(self, project_version_arn: _Optional[str] = ..., status: _Optional[_Union[ProjectVersionStatus, str]] = ..., status_message: _Optional[str] = ..., stage: _Optional[str] = ..., epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., loss: _Optional[float] = ..., metric_name: _Optional[str] = ..., metric_value: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., elapsed_seconds: _Optional[float] = ..., message: _Optional[str] = ..., updated_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportProjectVersionRequest(_message.Message):
    __slots__ = ("project_version_arn",)
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    def __init__(self, project_version_arn: _Optional[str] = ...) -> None: ...

class ExportProjectVersionResponse(_message.Message):
    __slots__ = ("file_name", "total_bytes", "data")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    total_bytes: int
    data: bytes
    def __init__(self, file_name: _Optional[str] = ..., total_bytes: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetInferenceUsageRequest(_message.Message):
    __slots__ = ("project_arn", "start_time", "end_time", "hourly")
    PROJECT_ARN_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    HOURLY_FIELD_NUMBER: _ClassVar[int]
    project_arn: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    hourly: bool
    def __init__(self, project_arn: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hourly: _Optional[bool] = ...) -> None: ...

class InferenceUsageHour(_message.Message):
    __slots__ = ("hour_start", "hours_running", "inference_unit_hours")
    HOUR_START_FIELD_NUMBER: _ClassVar[int]
    HOURS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_UNIT_HOURS_FIELD_NUMBER: _ClassVar[int]
    hour_start: _timestamp_pb2.Timestamp
    hours_running: float
    inference_unit_hours: float
    def __init__(self, hour_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hours_running: _Optional[float] = ..., inference_unit_hours: _Optional[float] = ...) -> None: ...

class GetInferenceUsageResponse(_message.Message):
    __slots__ = ("project_version_arn", "project_name", "version_name", "hours_running", "inference_unit_hours", "running", "hours")
    PROJECT_VERSION_ARN_FIELD_NUMBER: _ClassVar[int]
    PROJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_NAME_FIELD_NUMBER: _ClassVar[int]
    HOURS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_UNIT_HOURS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    project_version_arn: str
    project_name: str
    version_name: str
    hours_running: float
    inference_unit_hours: float
    running: bool
    hours: _containers.RepeatedCompositeFieldContainer[InferenceUsageHour]
    def __init__(self, project_version_arn: _Optional[str] = ..., project_name: _Optional[str] = ..., version_name: _Optional[str] = ..., hours_running: _Optional[float] = ..., inference_unit_hours: _Optional[float] = ..., running: _Optional[bool] = ..., hours: _Optional[_Iterable[_Union[InferenceUsageHour, _Mapping]]] = ...) -> None: ...
