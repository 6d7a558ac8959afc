"""The AWS CLI shorthand syntax for structures and maps."""

import pytest

from labelgate.cli._shorthand import ShorthandError, parse_shorthand


@pytest.mark.parametrize(("text", "expected"), [
    ("S3Bucket=out,S3KeyPrefix=models/", {"S3Bucket": "out", "S3KeyPrefix": "models/"}),
    ("GroundTruthManifest={S3Object={Bucket=b,Name=k}}",
     {"GroundTruthManifest": {"S3Object": {"Bucket": "b", "Name": "k"}}}),
    ("Assets=[{GroundTruthManifest={S3Object={Bucket=b,Name=k}}}]",
     {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "b", "Name": "k"}}}]}),
    ("Keys=a,b,c,Other=d", {"Keys": ["a", "b", "c"], "Other": "d"}),
    ("Keys=[a, b]", {"Keys": ["a", "b"]}),
    ('k="x,y={z}",n=2', {"k": "x,y={z}", "n": "2"}),
    ("Arn=arn:aws:rekognition:us-east-1:1:project/p/1",
     {"Arn": "arn:aws:rekognition:us-east-1:1:project/p/1"}),
    ("empty=", {"empty": ""}),
])
def test_shorthand(text, expected):
    assert parse_shorthand(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("a", "Expected: '='"),
    ("a=1,", "Expected a key"),
    ("a={b=1", "end of input"),
    ("=1", "Expected a key"),
    ("a='open", "Unterminated quote"),
    ("a=[1,2", "Expected: ',' or ']'"),
])
def test_shorthand_mistakes_say_where(text, message):
    with pytest.raises(ShorthandError, match=message):
        parse_shorthand(text)
