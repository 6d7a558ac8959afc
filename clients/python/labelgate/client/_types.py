"""Type aliases for the typed client's parameters.

Enum parameters take the AWS values (`"TRAIN"`, `"CUSTOM_LABELS"`), spelled as `Literal`s so
IDEs complete them and type checkers catch typos; tests/client/test_types.py keeps them equal
to the proto enums. Nested structures take either the proto message or an AWS-shaped dict
(`{"GroundTruthManifest": {"S3Object": {"Bucket": "b", "Name": "k"}}}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

CustomizationFeature: TypeAlias = Literal["CONTENT_MODERATION", "CUSTOM_LABELS"]
DatasetType: TypeAlias = Literal["TRAIN", "TEST"]
ProjectAutoUpdate: TypeAlias = Literal["ENABLED", "DISABLED"]

#: An AWS-shaped structure, e.g. `{"S3Bucket": "bucket", "S3KeyPrefix": "out/"}`.
AwsDict: TypeAlias = Mapping[str, Any]
#: Tags: key-value strings.
Tags: TypeAlias = Mapping[str, str]
#: gRPC metadata: a mapping or (key, value) pairs.
Metadata: TypeAlias = Mapping[str, str] | tuple[tuple[str, str], ...] | list[tuple[str, str]]
