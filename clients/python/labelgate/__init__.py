"""labelgate: self-hostable Rekognition Custom Labels."""

from importlib.resources import files as _files

# labelgate/VERSION is the one place the version is written: both distributions
# (labelgate-client here, labelgate at the repository root) read it in their pyproject.toml,
# and reading it here keeps an editable install current.
__version__ = _files(__name__).joinpath("VERSION").read_text(encoding="ascii").strip()

# labelgate.server and labelgate.backends come from the `labelgate` distribution, which may
# sit in another sys.path entry than this one.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)
