"""Settings: safe defaults, then TOML file < LABELGATE_* environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgate.backends.aws import AwsSettings
from labelgate.backends.local.settings import LocalSettings
from labelgate.server.config import ConfigError, Settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labelgate.toml"
    path.write_text(text)
    return path


def test_defaults_run_with_no_file_and_no_environment():
    s = load_settings(env={})
    assert s == Settings()
    assert (s.host, s.port, s.metrics_host, s.metrics_port) == ("127.0.0.1", 50051,
                                                                "127.0.0.1", 9464)
    assert s.data_dir == Path.cwd() / ".labelgate"
    assert s.default_backend == "local" and s.backends == {"local": LocalSettings()}
    assert s.max_message_bytes >= 6 * 1024 * 1024


def test_file_then_environment_then_overrides(tmp_path):
    path = write(tmp_path, 'host = "0.0.0.0"\nport = 6000\nmetrics_port = 7000\n'
                           'log_level = "debug"\n')
    env = {"LABELGATE_PORT": "6001", "LABELGATE_METRICS_PORT": "7001"}
    s = load_settings(path, env=env, metrics_port=7002, host=None)
    assert s.host == "0.0.0.0"  # file; the None override is ignored
    assert s.port == 6001  # environment beats file
    assert s.metrics_port == 7002  # override beats environment
    assert s.log_level == "DEBUG"


def test_every_documented_environment_variable():
    env = {
        "LABELGATE_HOST": "::", "LABELGATE_PORT": "1", "LABELGATE_DATA_DIR": "/srv/lg",
        "LABELGATE_METRICS_PORT": "0", "LABELGATE_DEFAULT_BACKEND": "local",
        "LABELGATE_LOG_LEVEL": "warning", "LABELGATE_LOG_FORMAT": "JSON",
        "LABELGATE_SHUTDOWN_GRACE_SECONDS": "2.5", "LABELGATE_UNRELATED": "ignored",
    }
    s = load_settings(env=env)
    assert (s.host, s.port, s.data_dir, s.metrics_port) == ("::", 1, Path("/srv/lg"), 0)
    assert (s.log_level, s.log_format, s.shutdown_grace_seconds) == ("WARNING", "json", 2.5)


def test_backend_tables_merge_across_file_and_environment(tmp_path):
    path = write(tmp_path, '[backends.local]\ndatabase_url = "sqlite:///a.db"\nregion = "x"\n')
    env = {"LABELGATE_BACKENDS__LOCAL__DATABASE_URL": "postgresql://db/lg",
           "LABELGATE_BACKENDS__AWS__REGION": "eu-west-1"}
    s = load_settings(path, env=env)
    assert s.backends == {"local": LocalSettings(database_url="postgresql://db/lg", region="x"),
                          "aws": AwsSettings(region="eu-west-1")}


def test_naming_a_default_backend_loads_it():
    s = load_settings(env={"LABELGATE_DEFAULT_BACKEND": "aws"})
    assert s.backends == {"aws": AwsSettings()}


def test_config_file_from_labelgate_config_and_relative_data_dir(tmp_path):
    path = write(tmp_path, 'data_dir = "state"\n')
    s = load_settings(env={"LABELGATE_CONFIG": str(path)})
    assert s.data_dir == tmp_path / "state"  # relative to the file, not the cwd


def test_example_config_in_deploy_loads():
    example = Path(__file__).parents[2] / "deploy" / "labelgate.example.toml"
    s = load_settings(example, env={})
    assert s.default_backend in s.backends


@pytest.mark.parametrize("text, words", [
    ('prot = 1\n', "prot: unknown setting"),
    ('port = 70000\n', "port: must be 0..65535, got 70000"),
    ('log_format = "xml"\n', "log_format"),
    ('log_level = "LOUD"\n', "log_level"),
    ('max_message_bytes = 1024\n', "6 MiB"),
    ('backends = 3\n', "backends: must be tables"),
    ('port = \n', "config file"),
])
def test_bad_file_values_name_the_setting(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_settings(write(tmp_path, text), env={})


def test_bad_environment_values_name_the_variable():
    with pytest.raises(ConfigError, match="LABELGATE_PORT"):
        load_settings(env={"LABELGATE_PORT": "http"})
    with pytest.raises(ConfigError, match="LABELGATE_BACKENDS__"):
        load_settings(env={"LABELGATE_BACKENDS__LOCAL": "x"})


def test_missing_file_and_unknown_override_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(TypeError, match="prot"):
        load_settings(env={}, prot=1)


def test_every_path_is_absolute_once_loaded(tmp_path, monkeypatch):
    """Workers and runtimes run in folders of their own: a path that stayed relative would be
    resolved a second time against the wrong directory (`make run` passes ./.labelgate)."""
    conf = tmp_path / "conf"
    conf.mkdir()
    path = write(conf, 'data_dir = "data"\n[backends.local]\n'
                       'database_url = "sqlite:///db/lg.sqlite"\ntriton_venv = "tv"\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from_file = load_settings(path, env={})
    assert from_file.data_dir == conf / "data"  # a file's paths are next to the file
    local = from_file.backends["local"]
    assert local.database_url == f"sqlite:///{conf}/db/lg.sqlite"
    assert local.triton_venv == conf / "tv"

    flags = load_settings(path, env={"LABELGATE_BACKENDS__LOCAL__TRITON_VENV": "env-tv"},
                          data_dir="./.labelgate")
    assert flags.data_dir == elsewhere / ".labelgate"  # flags and environment: the cwd
    assert flags.backends["local"].triton_venv == elsewhere / "env-tv"
    assert load_settings(env={"LABELGATE_DATA_DIR": "d"}).data_dir == elsewhere / "d"
    assert Settings(data_dir=Path("x")).data_dir == elsewhere / "x"


@pytest.mark.parametrize("url", ["postgresql://u:p@db/lg", "sqlite://", "sqlite:///:memory:",
                                 "sqlite:////abs/lg.db", "not a url"])
def test_database_urls_that_name_no_relative_file_are_kept(url):
    assert load_settings(env={"LABELGATE_BACKENDS__LOCAL__DATABASE_URL": url}
                         ).backends["local"].database_url == url


# --- typed backend tables ------------------------------------------------------------------------


def test_backend_tables_become_their_backends_settings_types(tmp_path):
    path = write(tmp_path, '[backends.local]\ntraining_threads = 2\nruntime = "triton"\n'
                           'triton_shared_repository = "yes"\n')
    local = load_settings(path, env={}).backends["local"]
    assert isinstance(local, LocalSettings)
    assert (local.training_threads, local.runtime, local.triton_shared_repository) == (
        2, "triton", True)
    # Environment text becomes the declared types; an account id keeps its leading zeros.
    env = {"LABELGATE_BACKENDS__LOCAL__SERVING_QUEUE_PER_UNIT": "7",
           "LABELGATE_BACKENDS__LOCAL__ACCOUNT_ID": "012345678901",
           "LABELGATE_BACKENDS__LOCAL__TRAINING_SEED": "",  # empty: the default
           "LABELGATE_BACKENDS__AWS__ARN_PREFIXES": "arn:labelgate:, arn:other:"}
    s = load_settings(env=env)
    assert s.backends["local"].serving_queue_per_unit == 7
    assert s.backends["local"].account_id == "012345678901"
    assert s.backends["local"].training_seed == 0
    assert s.backends["aws"].arn_prefixes == ("arn:labelgate:", "arn:other:")


def test_a_bad_backend_value_in_the_file_names_its_dotted_key(tmp_path):
    path = write(tmp_path, '[backends.local]\ntraining_threads = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert message.startswith("backends.local.training_threads: must be an integer, got 'x'")
    assert f"config file {path}" in message


def test_a_bad_backend_value_in_the_environment_names_its_key_and_variable():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"LABELGATE_BACKENDS__LOCAL__TRAINING_THREADS": "x"})
    assert str(caught.value) == ("backends.local.training_threads: must be an integer, got 'x' "
                                 "(from LABELGATE_BACKENDS__LOCAL__TRAINING_THREADS)")
    with pytest.raises(ConfigError, match=r"backends\.aws\.max_attempts: must be at least 1"):
        load_settings(env={"LABELGATE_BACKENDS__AWS__MAX_ATTEMPTS": "0"})


@pytest.mark.parametrize("source", ["file", "environment", "override"])
def test_an_unknown_backend_key_is_rejected_by_name(tmp_path, source):
    path = write(tmp_path, '[backends.local]\ntraining_thread = 2\n')
    with pytest.raises(ConfigError) as caught:
        if source == "file":
            load_settings(path, env={})
        elif source == "environment":
            load_settings(env={"LABELGATE_BACKENDS__LOCAL__TRAINING_THREAD": "2"})
        else:
            load_settings(env={}, backends={"local": {"training_thread": 2}})
    message = str(caught.value)
    assert message.startswith("backends.local.training_thread: unknown setting")
    assert "training_threads" in message  # the known keys are listed


def test_backend_keys_follow_file_then_environment_then_overrides(tmp_path):
    path = write(tmp_path, '[backends.local]\ntraining_threads = 1\ntraining_seed = 4\n'
                           'serving_queue_per_unit = 5\n')
    env = {"LABELGATE_BACKENDS__LOCAL__TRAINING_THREADS": "2",
           "LABELGATE_BACKENDS__LOCAL__TRAINING_SEED": "6"}
    local = load_settings(path, env=env).backends["local"]
    assert (local.training_threads, local.training_seed, local.serving_queue_per_unit) == (
        2, 6, 5)  # environment beats file; the file's other keys stay
    local = load_settings(path, env=env, backends={"local": {"training_threads": 3}}
                          ).backends["local"]
    assert (local.training_threads, local.training_seed, local.serving_queue_per_unit) == (
        3, 6, 5)  # an override beats both, key by key


def test_the_learner_must_be_installed():
    # `fake` is the test suite's learner plugin (tests/plugins, on the path while tests run).
    fake = load_settings(env={"LABELGATE_BACKENDS__LOCAL__TRAINING_LEARNER": "fake"})
    assert fake.backends["local"].training_learner == "fake"
    with pytest.raises(ConfigError, match=r"backends\.local\.training_learner: no learner "
                                          r"'nope' is installed"):
        load_settings(env={"LABELGATE_BACKENDS__LOCAL__TRAINING_LEARNER": "nope"})


def test_settings_made_directly_are_validated_too(tmp_path):
    with pytest.raises(ConfigError, match=r"^backends\.local\.region: must match"):
        Settings(data_dir=tmp_path, backends={"local": {"region": "EU West"}})
    s = Settings(data_dir=tmp_path, backends={"local": {"training_threads": "2"}})
    assert s.backends["local"].training_threads == 2
    # A copy keeps the typed tables; an unknown backend's table stays a plain dict.
    copy = s.replace(port=0, backends={**s.backends, "elsewhere": {"x": 1}})
    assert copy.backends["local"] is s.backends["local"]
    assert copy.backends["elsewhere"] == {"x": 1}
    with pytest.raises(ConfigError, match=r"port: must be 0\.\.65535"):
        s.replace(port=-5)
