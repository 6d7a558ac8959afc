"""The AWS CLI's view of our operations: command and option names from botocore's model.

`aws rekognition` derives every command and option from the service model
(`xform_name(name, "-")`); we do the same, keeping only the operations and members our proto
has, so `labelgate` accepts an `aws rekognition` command line for any of the 23 operations.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from botocore import xform_name
from botocore.model import OperationModel, Shape

from labelgate import shapes
from labelgate.aws_model import service_model


def first_sentence(html: str) -> str:
    """Plain text of a botocore documentation string, cut after its first sentence."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html or "")).strip()
    sentences = re.findall(r".+?\.(?=\s|$)", text) or [text]
    # Many Custom Labels operations open with this boilerplate; the next sentence says more.
    useful = [s.strip() for s in sentences if not s.strip().startswith("This operation applies")]
    sentence = (useful or sentences)[0].strip()
    return sentence.replace("%", "%%")  # argparse formats help strings with %


@dataclass(frozen=True)
class Member:
    """One input member as a CLI option."""

    name: str  # AWS member name, also the argparse dest
    option: str  # --project-name
    shape: Shape
    required: bool

    @property
    def help(self) -> str:
        return first_sentence(self.shape.documentation)


@dataclass(frozen=True)
class Command:
    operation: str  # CreateProject
    name: str  # create-project
    model: OperationModel
    members: tuple[Member, ...]

    @property
    def help(self) -> str:
        return first_sentence(self.model.documentation)

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)


def option_name(member: str) -> str:
    return "--" + xform_name(member, "-")


@functools.cache
def commands() -> tuple[Command, ...]:
    """One command per proto operation, in proto order."""
    out = []
    for op in shapes.OPERATIONS:
        model = service_model().operation_model(op)
        request_type, _ = shapes.operation_types(op)
        ours = {shapes.aws_name(f) for f in request_type.DESCRIPTOR.fields}
        required = set(model.input_shape.required_members)
        members = tuple(
            Member(name, option_name(name), shape, name in required)
            for name, shape in model.input_shape.members.items() if name in ours
        )
        out.append(Command(op, xform_name(op, "-"), model, members))
    return tuple(out)
