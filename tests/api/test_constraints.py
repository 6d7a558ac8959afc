"""Server-side enforcement of the API model's max/pattern/enum constraints (api.md)."""

import pytest

from labelgate.constraints import validate_request
from labelgate.errors import ValidationException

PROJECT = "arn:labelgate:rekognition:local:000000000000:project/demo/1700000000000"
DATASET = "arn:labelgate:rekognition:local:000000000000:project/demo/dataset/train/1700000000001"


def test_valid_requests_pass():
    validate_request("CreateProject", {"ProjectName": "my_project-1.0"})
    validate_request(
        "ListDatasetEntries",
        {
            "DatasetArn": DATASET,
            "MaxResults": 100,
            "ContainsLabels": ["cat"],
            "SourceRefContains": "x",
        },
    )
    validate_request("TagResource", {"ResourceArn": PROJECT, "Tags": {"Dept": "Engineering"}})


@pytest.mark.parametrize(
    ("operation", "params", "fragment"),
    [
        ("CreateProject", {"ProjectName": "has space"}, "regular expression pattern"),
        ("CreateProject", {"ProjectName": "x" * 256}, "length less than or equal to 255"),
        (
            "CreateProject",
            {},
            "at 'projectName' failed to satisfy constraint: Member must not be null",
        ),
        ("CreateProject", {"ProjectName": "p", "Feature": "NOPE"}, "enum value set"),
        ("DescribeProjects", {"MaxResults": 101}, "value less than or equal to 100"),
        ("DescribeProjects", {"MaxResults": 0}, "value greater than or equal to 1"),
        (
            "ListProjectPolicies",
            {"ProjectArn": PROJECT, "MaxResults": 6},
            "less than or equal to 5",
        ),
        ("DescribeDataset", {"DatasetArn": PROJECT}, "regular expression pattern"),
        ("TagResource", {"ResourceArn": PROJECT, "Tags": {"aws:owner": "x"}}, "tags.aws:owner.key"),
        ("ListDatasetEntries", {"DatasetArn": DATASET, "SourceRefContains": "   "}, "pattern"),
        ("DescribeProjects", {"ProjectNames": ["ok", "not ok"]}, "projectNames.2.member"),
    ],
)
def test_violations_raise_aws_style_validation_errors(operation, params, fragment):
    with pytest.raises(ValidationException) as info:
        validate_request(operation, params)
    assert "validation error detected" in str(info.value)
    assert fragment in str(info.value)


def test_several_violations_are_all_reported():
    with pytest.raises(ValidationException, match=r"^2 validation errors detected"):
        validate_request("DescribeProjects", {"MaxResults": 500, "ProjectNames": ["bad name"]})
