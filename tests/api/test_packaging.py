"""Two distributions from one checkout: every package is listed in the pyproject that ships
it, nothing is shipped twice, and both read their version from one file."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
VERSION_FILE = CLIENT / "labelgate" / "VERSION"


def _setuptools(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_on_disk(project: Path) -> set[str]:
    found = set()
    for package, folder in _setuptools(project)["package-dir"].items():
        base = project / folder
        for init in base.rglob("__init__.py"):
            if "build" in init.relative_to(project).parts:
                continue
            rel = init.parent.relative_to(base).parts
            found.add(".".join(p for p in (package, *rel) if p))
    return found


def test_every_package_is_listed_in_its_distribution():
    for project in (ROOT, CLIENT):
        listed = set(_setuptools(project)["packages"])
        missing = _packages_on_disk(project) - listed
        assert not missing, f"add to {project.name}/pyproject.toml packages: {sorted(missing)}"


def test_the_distributions_share_no_package_and_ship_only_labelgate():
    server, client = (set(_setuptools(p)["packages"]) for p in (ROOT, CLIENT))
    assert not server & client
    # Never a bare `server` or `backends` module on users' sys.path.
    assert all(p == "labelgate" or p.startswith("labelgate.") for p in server | client)
    assert "labelgate" in client and "labelgate.server" in server


def test_one_version_file_for_both():
    for project in (ROOT, CLIENT):
        config = tomllib.loads((project / "pyproject.toml").read_text())
        assert config["project"]["dynamic"] == ["version"]
        assert (project / config["tool"]["setuptools"]["dynamic"]["version"]["file"]
                ).resolve() == VERSION_FILE
    import labelgate

    assert labelgate.__version__ == VERSION_FILE.read_text().strip()


def test_the_client_needs_no_server_dependency():
    client = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = {d.split("==")[0].split("[")[0].lower() for d in client["dependencies"]}
    assert not names & {"torch", "onnxruntime", "boto3", "prometheus-client", "sqlalchemy",
                        "pillow", "numpy"}
