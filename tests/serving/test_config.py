"""The `[backends.local]` serving keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.backends.local import LocalBackend
from labelgate.backends.local.serving.serving_service import ServingConfig


def test_defaults_and_text_values_from_the_environment() -> None:
    assert ServingConfig.from_config({}) == ServingConfig()
    config = ServingConfig.from_config({"serving_queue_per_unit": "7", "runtime": "triton",
                                        "autoscale_up_after_seconds": "1.5"})
    assert (config.queue_per_unit, config.runtime, config.scale_up_after_s) == (7, "triton", 1.5)


@pytest.mark.parametrize("config, words", [
    ({"runtime": "gpu"}, "runtime must be embedded or triton"),
    ({"serving_queue_per_unit": 0}, "serving_queue_per_unit must be >= 1"),
    ({"serving_threads_per_unit": "many"}, "serving_threads_per_unit must be a number"),
    ({"serving_warp_speed": 9}, "unknown local backend setting(s) serving_warp_speed"),
])
def test_bad_values_name_the_setting(tmp_path: Path, config: dict, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        LocalBackend.from_config(config, data_dir=tmp_path)
    assert words in str(caught.value)


def test_triton_keys_are_left_to_the_triton_runtime(tmp_path: Path) -> None:
    backend = LocalBackend.from_config({"triton_url": "127.0.0.1:8001"}, data_dir=tmp_path)
    assert backend.serving_config.runtime == "embedded"
