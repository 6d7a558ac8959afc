"""Proto messages <-> AWS-shaped dicts, driven only by the descriptors.

One converter for every message: field `project_arn` is AWS member `ProjectArn`, enum value
`PROJECT_VERSION_STATUS_RUNNING` is AWS value `RUNNING`, `Timestamp` is a timezone-aware
`datetime` (or epoch seconds for the JSON wire), `bytes` stay bytes (or base64 text). Only
fields that are present are emitted, so "absent" survives the round trip as AWS expects.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import descriptor as _d
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from labelgate.errors import ValidationException
from labelgate.v1 import custom_labels_pb2 as pb

TimeStyle = Literal["datetime", "epoch", "iso"]
BlobStyle = Literal["bytes", "base64"]

SERVICE = pb.DESCRIPTOR.services_by_name["CustomLabels"]
#: The 23 AWS operations (unary), in proto order.
OPERATIONS: tuple[str, ...] = tuple(m.name for m in SERVICE.methods if not m.server_streaming)
#: labelgate's extensions, server-streaming RPCs with no AWS counterpart
#: (WatchProjectVersion, ExportProjectVersion, GetInferenceUsage): no AWS shapes, no boto3/CLI
#: command of their own.
STREAMING_OPERATIONS: tuple[str, ...] = tuple(
    m.name for m in SERVICE.methods if m.server_streaming
)


#: Fields numbered from here on are labelgate extensions inside AWS-shaped messages (e.g.
#: ProjectVersionDescription.inference_units_status): botocore's model has no such member.
FIRST_EXTENSION_FIELD = 1000


def is_extension_field(field: _d.FieldDescriptor) -> bool:
    return field.number >= FIRST_EXTENSION_FIELD


def aws_name(field: _d.FieldDescriptor) -> str:
    """`project_arn` -> `ProjectArn`, `s3_object` -> `S3Object`, `f1_score` -> `F1Score`."""
    return "".join(part[:1].upper() + part[1:] for part in field.name.split("_"))


def enum_prefix(enum: _d.EnumDescriptor) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", enum.name).upper() + "_"


def enum_to_aws(enum: _d.EnumDescriptor, number: int) -> str:
    return enum.values_by_number[number].name.removeprefix(enum_prefix(enum))


def enum_from_aws(enum: _d.EnumDescriptor, value: str) -> int:
    v = enum.values_by_name.get(enum_prefix(enum) + str(value))
    if v is None or v.number == 0:
        allowed = ", ".join(enum_to_aws(enum, x.number) for x in enum.values[1:])
        raise ValidationException(
            f"Value '{value}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]"
        )
    return v.number


def operation_types(operation: str) -> tuple[type[Message], type[Message]]:
    method = SERVICE.methods_by_name[operation]
    return (getattr(pb, method.input_type.name), getattr(pb, method.output_type.name))


def snake_operation(operation: str) -> str:
    """`CreateProject` -> `create_project` (the boto3 / backend method name)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", operation).lower()


def _is_map(field: _d.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_repeated(field: _d.FieldDescriptor) -> bool:
    return field.is_repeated


def _scalar_to_aws(field: _d.FieldDescriptor, value: Any, style: _Style):
    if field.type == _d.FieldDescriptor.TYPE_ENUM:
        return enum_to_aws(field.enum_type, value)
    if field.type == _d.FieldDescriptor.TYPE_BYTES and style.blobs == "base64":
        return base64.b64encode(value).decode("ascii")
    if field.type == _d.FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            when = value.ToDatetime(tzinfo=dt.UTC)
            if style.times == "epoch":
                return when.timestamp()
            if style.times == "iso":
                return when.isoformat()
            return when
        return _message_to_aws(value, style)
    return value


@dataclass(frozen=True)
class _Style:
    times: TimeStyle
    blobs: BlobStyle
    include_empty: bool
    extensions: bool = True


def _message_to_aws(message: Message, style: _Style) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if not style.extensions and is_extension_field(field):
            continue
        name = aws_name(field)
        if _is_map(field):
            out[name] = dict(value)
        elif _is_repeated(field):
            out[name] = [_scalar_to_aws(field, v, style) for v in value]
        else:
            out[name] = _scalar_to_aws(field, value, style)
    if style.include_empty:
        # ListFields() omits empty lists and maps; AWS sends them (`"Datasets": []`) and
        # client code indexes them without checks (serving.md §9).
        for field in message.DESCRIPTOR.fields:
            if not style.extensions and is_extension_field(field):
                continue
            if (_is_map(field) or _is_repeated(field)) and aws_name(field) not in out:
                out[aws_name(field)] = {} if _is_map(field) else []
    return out


def to_aws(
    message: Message,
    *,
    times: TimeStyle = "datetime",
    blobs: BlobStyle = "bytes",
    include_empty: bool = False,
    extensions: bool = True,
) -> dict[str, Any]:
    """An AWS-shaped dict of the fields that are set.

    `include_empty=True` also emits empty lists and maps, as AWS does in responses; leave it
    off for requests, where an empty list would break the API's `min` constraints.
    `extensions=False` leaves out labelgate's extension fields (what AWS itself would send).
    """
    return _message_to_aws(message, _Style(times, blobs, include_empty, extensions))


def set_timestamp(field: Timestamp, when: dt.datetime) -> None:
    """Fill a Timestamp from a stored datetime; SQLite hands back naive values we wrote as UTC."""
    field.FromDatetime(when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def _timestamp(value: Any) -> Timestamp:
    ts = Timestamp()
    if isinstance(value, dt.datetime):
        ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    elif isinstance(value, int | float):
        ts.FromNanoseconds(round(value * 1e9))
    else:
        ts.FromDatetime(dt.datetime.fromisoformat(str(value)))
    return ts


def _scalar_from_aws(
    field: _d.FieldDescriptor, value: Any, target: Message | None, blobs: BlobStyle
):
    t = field.type
    if t == _d.FieldDescriptor.TYPE_ENUM:
        return enum_from_aws(field.enum_type, value)
    if t == _d.FieldDescriptor.TYPE_BYTES:
        if isinstance(value, str):
            return base64.b64decode(value) if blobs == "base64" else value.encode("utf-8")
        return bytes(value)
    if t == _d.FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise ValidationException(f"Member {aws_name(field)} must be a boolean")
        return value
    if t in (_d.FieldDescriptor.TYPE_INT32, _d.FieldDescriptor.TYPE_INT64):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationException(f"Member {aws_name(field)} must be an integer")
        return value
    if t in (_d.FieldDescriptor.TYPE_FLOAT, _d.FieldDescriptor.TYPE_DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationException(f"Member {aws_name(field)} must be a number")
        return float(value)
    if t == _d.FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise ValidationException(f"Member {aws_name(field)} must be a string")
        return value
    raise TypeError(field.full_name)


def from_aws(
    data: dict[str, Any], message_type: type[Message] | Message, *, blobs: BlobStyle = "bytes",
    strict: bool = True,
) -> Message:
    """Build (or fill) a message from an AWS-shaped dict. Unknown members are rejected, or
    skipped with `strict=False` (responses of a newer AWS API than our proto knows)."""
    msg = message_type() if isinstance(message_type, type) else message_type
    desc = msg.DESCRIPTOR
    by_aws = {aws_name(f): f for f in desc.fields}
    if not isinstance(data, dict):
        raise ValidationException(f"Expected a structure for {desc.name}")
    for key, value in data.items():
        field = by_aws.get(key)
        if field is None:
            if not strict:
                continue
            raise ValidationException(f"Unknown member {key!r} in {desc.name}")
        if value is None:
            continue
        if _is_map(field):
            getattr(msg, field.name).update({str(k): str(v) for k, v in value.items()})
        elif _is_repeated(field):
            container = getattr(msg, field.name)
            for item in value:
                if field.type == _d.FieldDescriptor.TYPE_MESSAGE:
                    from_aws(item, container.add(), blobs=blobs, strict=strict)
                else:
                    container.append(_scalar_from_aws(field, item, None, blobs))
        elif field.type == _d.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                getattr(msg, field.name).CopyFrom(_timestamp(value))
            else:
                from_aws(value, getattr(msg, field.name), blobs=blobs, strict=strict)
                getattr(msg, field.name).SetInParent()
        else:
            setattr(msg, field.name, _scalar_from_aws(field, value, None, blobs))
    return msg
