"""LocalBackend's config, lifecycle and ARN ownership."""

from __future__ import annotations

import asyncio

import pytest

from labelgate.backends import Backend, load_backend
from labelgate.backends.local import LocalBackend
from labelgate.backends.local.store.db import default_url
from labelgate.v1 import custom_labels_pb2 as pb


def test_local_backend_is_registered_and_satisfies_the_protocol(tmp_path):
    backend = load_backend("local", {}, data_dir=tmp_path)
    assert isinstance(backend, LocalBackend)
    assert isinstance(backend, Backend)
    assert backend.name == "local"


def test_defaults_put_the_store_in_the_data_dir(tmp_path):
    backend = LocalBackend.from_config({}, data_dir=tmp_path / "data")
    assert backend.database_url == default_url(tmp_path / "data")
    asyncio.run(_start_stop(backend))
    assert (tmp_path / "data" / "labelgate.db").exists()


async def _start_stop(backend: LocalBackend) -> None:
    await backend.start()
    await backend.stop()


def test_region_and_account_id_shape_the_arns(make_local):
    local = make_local({"region": "eu-west-9", "account_id": "123456789012"})
    arn = local.project("p")
    assert arn.startswith("arn:labelgate:rekognition:eu-west-9:123456789012:project/p/")
    assert local.backend.owns_arn(arn)
    assert not local.backend.owns_arn(arn.replace("123456789012", "000000000000"))
    assert not local.backend.owns_arn("arn:aws:rekognition:us-east-1:123456789012:project/p/1")


@pytest.mark.parametrize(
    "config",
    [
        {"databse_url": "sqlite://"},
        {"region": "EU West"},
        {"account_id": "12345"},
        {"max_project_policies": 0},
    ],
)
def test_invalid_config_fails_at_load(tmp_path, config):
    with pytest.raises(ValueError):
        LocalBackend.from_config(config, data_dir=tmp_path)


def test_state_survives_a_restart(make_local):
    arn = make_local().project("kept")
    again = make_local()
    response = again.describe_projects(pb.DescribeProjectsRequest())
    assert [d.project_arn for d in response.project_descriptions] == [arn]
