"""The proto mirrors botocore's Rekognition model member for member (api.md)."""

import pytest
from google.protobuf import descriptor as d

from labelgate import shapes
from labelgate.aws_model import service_model
from labelgate.v1 import custom_labels_pb2 as pb

CUSTOM_LABELS_OPERATIONS = {
    "CreateProject",
    "DescribeProjects",
    "DeleteProject",
    "CreateProjectVersion",
    "DescribeProjectVersions",
    "StartProjectVersion",
    "StopProjectVersion",
    "DeleteProjectVersion",
    "CopyProjectVersion",
    "CreateDataset",
    "DescribeDataset",
    "DeleteDataset",
    "ListDatasetEntries",
    "ListDatasetLabels",
    "UpdateDatasetEntries",
    "DistributeDatasetEntries",
    "DetectCustomLabels",
    "PutProjectPolicy",
    "ListProjectPolicies",
    "DeleteProjectPolicy",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
}

_SCALARS = {
    "string": {d.FieldDescriptor.TYPE_STRING},
    "integer": {d.FieldDescriptor.TYPE_INT32},
    "long": {d.FieldDescriptor.TYPE_INT64},
    "float": {d.FieldDescriptor.TYPE_FLOAT},
    "double": {d.FieldDescriptor.TYPE_DOUBLE},
    "boolean": {d.FieldDescriptor.TYPE_BOOL},
    "blob": {d.FieldDescriptor.TYPE_BYTES},
}


def test_service_has_exactly_the_23_custom_labels_operations():
    assert set(shapes.OPERATIONS) == CUSTOM_LABELS_OPERATIONS
    assert len(shapes.OPERATIONS) == 23


def _compare(shape, message: d.Descriptor, path: str, seen: set) -> None:
    if (shape.name, message.full_name) in seen:
        return
    seen.add((shape.name, message.full_name))
    fields = {shapes.aws_name(f): f for f in message.fields if not shapes.is_extension_field(f)}
    assert set(fields) == set(shape.members), f"{path}: members differ"
    for name, member in shape.members.items():
        field = fields[name]
        where = f"{path}.{name}"
        kind = member.type_name
        if kind == "list":
            assert field.is_repeated, where
            inner = member.member
            if inner.type_name == "structure":
                _compare(inner, field.message_type, where, seen)
            elif getattr(inner, "enum", None):
                _compare_enum(inner, field.enum_type, where)
            else:
                assert field.type in _SCALARS[inner.type_name], where
        elif kind == "map":
            assert field.message_type.GetOptions().map_entry, where
        elif kind == "structure":
            _compare(member, field.message_type, where, seen)
        elif kind == "timestamp":
            assert field.message_type.full_name == "google.protobuf.Timestamp", where
        elif getattr(member, "enum", None):
            _compare_enum(member, field.enum_type, where)
        else:
            assert field.type in _SCALARS[kind], where
            assert field.has_presence, f"{where}: scalars are optional (presence tracked)"


def _compare_enum(shape, enum: d.EnumDescriptor, where: str) -> None:
    assert enum is not None, where
    values = [shapes.enum_to_aws(enum, v.number) for v in enum.values[1:]]
    assert values == list(shape.enum), where
    assert enum.values[0].name.endswith("_UNSPECIFIED")


@pytest.mark.parametrize("operation", sorted(CUSTOM_LABELS_OPERATIONS))
def test_request_and_response_mirror_the_aws_shapes(operation):
    op = service_model().operation_model(operation)
    request_type, response_type = shapes.operation_types(operation)
    _compare(op.input_shape, request_type.DESCRIPTOR, operation + "Request", set())
    if op.output_shape is not None:
        _compare(op.output_shape, response_type.DESCRIPTOR, operation + "Response", set())
    else:
        assert not response_type.DESCRIPTOR.fields


@pytest.mark.parametrize("message, expected", [
    (pb.ProjectVersionDescription, ["inference_units_status"]),
    (pb.CreateProjectVersionRequest, ["training_budget_seconds"]),
])
def test_extension_fields_live_in_their_own_number_range(message, expected):
    # Extensions inside AWS-shaped messages are numbered from FIRST_EXTENSION_FIELD, so the
    # comparison above can tell them apart: the serving status and the training budget.
    description = message.DESCRIPTOR
    extensions = [f.name for f in description.fields if shapes.is_extension_field(f)]
    assert extensions == expected
    assert max(f.number for f in description.fields if not shapes.is_extension_field(f)) < 1000


def test_only_the_known_messages_carry_extension_fields():
    carriers = {m.name for m in pb.DESCRIPTOR.message_types_by_name.values()
                if any(shapes.is_extension_field(f) for f in m.fields)}
    assert carriers == {"ProjectVersionDescription", "CreateProjectVersionRequest"}


def test_extension_fields_are_left_out_of_what_aws_sees():
    request = pb.CreateProjectVersionRequest(project_arn="arn", version_name="v1",
                                             training_budget_seconds=90)
    assert shapes.to_aws(request)["TrainingBudgetSeconds"] == 90
    assert "TrainingBudgetSeconds" not in shapes.to_aws(request, extensions=False)


def test_package_and_service_names():
    assert pb.DESCRIPTOR.package == "labelgate.v1"
    assert "CustomLabels" in pb.DESCRIPTOR.services_by_name
