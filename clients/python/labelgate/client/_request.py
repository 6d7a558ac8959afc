"""Keyword arguments of the typed methods -> request messages, driven by the descriptors.

Each request field takes the natural Python value: scalars as they are, enums as AWS values
(`"TRAIN"`; the proto number also works), maps as mappings, nested structures as the proto
message or an AWS-shaped dict (converted by `labelgate.shapes.from_aws`), repeated fields as
sequences of those. `None` leaves a field absent, which AWS distinguishes from zero/empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import descriptor as _d
from google.protobuf.message import Message

from labelgate import shapes
from labelgate.errors import ValidationException

_ENUM = _d.FieldDescriptor.TYPE_ENUM
_MESSAGE = _d.FieldDescriptor.TYPE_MESSAGE


def _enum(field: _d.FieldDescriptor, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return shapes.enum_from_aws(field.enum_type, value)


def _fill_message(field: _d.FieldDescriptor, value: Any, target: Message) -> None:
    if isinstance(value, Message):
        if value.DESCRIPTOR is not field.message_type:
            raise TypeError(f"{field.name} takes {field.message_type.name} or a dict, "
                            f"not {value.DESCRIPTOR.name}")
        target.CopyFrom(value)
    elif isinstance(value, Mapping):
        shapes.from_aws(dict(value), target)
        target.SetInParent()
    else:
        raise ValidationException(
            f"Member {shapes.aws_name(field)} must be a structure, not {type(value).__name__}")


def build_request(message_type: type[Message], params: Mapping[str, Any]) -> Message:
    """A `message_type` with the fields named (snake_case) in `params`."""
    request = message_type()
    fields = message_type.DESCRIPTOR.fields_by_name
    for name, value in params.items():
        if value is None:
            continue
        field = fields.get(name)
        if field is None:
            raise TypeError(f"{message_type.DESCRIPTOR.name} has no field {name!r}")
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(request, name).update(dict(value))
        elif field.is_repeated:
            if isinstance(value, str | bytes | Mapping):
                # A lone string would otherwise be split into characters.
                raise TypeError(f"{name} takes a list, not {type(value).__name__}")
            container = getattr(request, name)
            for item in value:
                if field.type == _MESSAGE:
                    _fill_message(field, item, container.add())
                elif field.type == _ENUM:
                    container.append(_enum(field, item))
                else:
                    container.append(item)
        elif field.type == _MESSAGE:
            _fill_message(field, value, getattr(request, name))
        elif field.type == _ENUM:
            setattr(request, name, _enum(field, value))
        else:
            setattr(request, name, value)
    return request
