"""The `[backends.local]` serving keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.backends.local import LocalBackend
from labelgate.backends.local.serving.serving_service import ServingConfig
from labelgate.backends.local.settings import LocalSettings


def test_defaults_and_text_values_from_the_environment() -> None:
    assert ServingConfig.from_config({}) == ServingConfig()
    config = ServingConfig.from_config({"serving_queue_per_unit": "7", "runtime": "triton",
                                        "autoscale_up_after_seconds": "1.5"})
    assert (config.queue_per_unit, config.runtime, config.scale_up_after_s) == (7, "triton", 1.5)


@pytest.mark.parametrize("config, words", [
    ({"runtime": "gpu"}, "runtime: must be 'embedded' or 'triton', got 'gpu'"),
    ({"serving_queue_per_unit": 0}, "serving_queue_per_unit: must be at least 1, got 0"),
    ({"serving_threads_per_unit": "many"},
     "serving_threads_per_unit: must be an integer, got 'many'"),
    ({"serving_calibration_seconds": "soon"},
     "serving_calibration_seconds: must be a number, got 'soon'"),
    ({"serving_warp_speed": 9}, "serving_warp_speed: unknown setting"),
    ({"triton_flavour": "tensorrt"}, "triton_flavour: must be 'python' or 'onnxruntime'"),
])
def test_bad_values_name_the_setting(tmp_path: Path, config: dict, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        LocalBackend.from_config(config, data_dir=tmp_path)
    assert words in str(caught.value)


def test_triton_keys_are_typed_with_the_rest(tmp_path: Path) -> None:
    backend = LocalBackend.from_config({"triton_url": "127.0.0.1:8001",
                                        "triton_max_batch_size": "16"}, data_dir=tmp_path)
    assert backend.serving_config.runtime == "embedded"
    assert (backend.settings.triton_url, backend.settings.triton_max_batch_size) == (
        "127.0.0.1:8001", 16)
    with pytest.raises(ValueError, match="triton_bogus: unknown setting"):
        LocalBackend.from_config({"triton_bogus": 1}, data_dir=tmp_path)


def test_serving_config_is_a_view_of_the_typed_settings(tmp_path: Path) -> None:
    settings = LocalSettings(serving_max_inference_units=3, autoscale_interval_seconds=0.5)
    config = ServingConfig.from_settings(settings)
    assert (config.max_units, config.autoscale_interval_s) == (3, 0.5)
    assert LocalBackend.from_config(settings, data_dir=tmp_path).serving_config == config
