"""One name, one meaning: no two modules of the installed `labelgate` share a file name.

`metrics.py` for Prometheus series in one place and evaluation figures in another, two
`validation.py`, two `images.py`: a reader who has learnt one expects the other. Package
`__init__`/`__main__` and the numbered migration revisions are exempt.
"""

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = (ROOT / "clients" / "python" / "labelgate", ROOT / "server", ROOT / "backends")
EXEMPT = {"__init__.py", "__main__.py"}


def _modules() -> dict[str, list[str]]:
    names: dict[str, list[str]] = defaultdict(list)
    for tree in TREES:
        for path in tree.rglob("*.py"):
            rel = path.relative_to(ROOT)
            if path.name in EXEMPT or "migrations" in rel.parts or "_pb2" in path.name:
                continue
            names[path.name].append(str(rel))
    return names


def test_no_module_name_is_used_twice():
    reused = {name: paths for name, paths in _modules().items() if len(paths) > 1}
    assert not reused, f"module names used for more than one module: {reused}"


def test_the_tree_is_seen():
    assert len(_modules()) > 100
