"""Settings of the AWS front and the aws backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.backends.aws import AwsBackend
from labelgate.server.config import ConfigError, load_settings


def test_front_settings_from_the_environment_and_a_file(tmp_path: Path) -> None:
    settings = load_settings(env={"LABELGATE_AWS_PORT": "-1",
                                  "LABELGATE_AWS_ACCESS_KEYS": "AKID1:s1, AKID2:s:2"})
    assert settings.aws_port == -1
    assert settings.aws_access_keys == {"AKID1": "s1", "AKID2": "s:2"}
    path = tmp_path / "labelgate.toml"
    path.write_text('aws_port = 8080\n[aws_access_keys]\nAKID = "secret"\n')
    settings = load_settings(path, env={})
    assert (settings.aws_port, settings.aws_access_keys) == (8080, {"AKID": "secret"})
    assert load_settings(env={}).aws_port == 0  # off unless asked for
    with pytest.raises(ConfigError, match="aws_access_keys"):
        load_settings(env={"LABELGATE_AWS_ACCESS_KEYS": "no-colon"})
    with pytest.raises(ConfigError, match="aws_port"):
        load_settings(env={"LABELGATE_AWS_PORT": "70000"})


def test_aws_backend_config(tmp_path: Path) -> None:
    backend = AwsBackend.from_config({"region": "eu-west-1", "arn_prefixes": "arn:labelgate:",
                                      "endpoint_url": "http://127.0.0.1:1"}, data_dir=tmp_path)
    assert backend.owns_arn("arn:aws:rekognition:eu-west-1:111122223333:project/p/1")
    assert backend.owns_arn("arn:aws-cn:rekognition:cn-north-1:111122223333:project/p/1")
    assert backend.owns_arn("arn:labelgate:rekognition:local:000000000000:project/p/1")
    assert not backend.owns_arn("arn:other:rekognition:x:000000000000:project/p/1")
    client = backend.make_client()
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    with pytest.raises(ValueError, match="regoin: unknown setting"):
        AwsBackend.from_config({"regoin": "x"}, data_dir=tmp_path)
