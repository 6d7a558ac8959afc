"""labelgate gateway: the asyncio gRPC server in front of the backends.

`Gateway` is the server object, `run(settings)` the blocking entry point, `load_settings`
builds `Settings` from file, environment and overrides; `labelgate.server.testing` starts a
real gateway for tests.
"""

from labelgate.server.app import Gateway, run
from labelgate.server.config import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Gateway", "Settings", "load_settings", "run"]
