"""Every Python package in the tree is listed in pyproject.toml (the mapping is by hand)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _packages_on_disk() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for package, folder in config["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join((package, *rel)))
    return found


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, f"add to [tool.setuptools].packages: {sorted(missing)}"


def test_no_bare_top_level_modules():
    # DESIGN.md: never install a bare `server` or `backends` module.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "labelgate" or p.startswith("labelgate.") for p in config["packages"])
