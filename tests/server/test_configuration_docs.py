"""docs/configuration.md documents every settings field: the gateway's and each shipped
backend's, listed from the settings types themselves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from labelgate.backends.aws import AwsSettings
from labelgate.backends.local.settings import LocalSettings
from labelgate.server.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
#: Section heading -> the type whose fields its tables document.
SECTIONS: dict[str, type[BaseModel]] = {
    "Gateway settings": Settings,
    "`[backends.local]`": LocalSettings,
    "`[backends.aws]`": AwsSettings,
}
ROW = re.compile(r"^\| `([a-z0-9_]+)` \|", re.M)


def _section(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


@pytest.mark.parametrize("heading, settings_type", SECTIONS.items())
def test_every_settings_field_has_its_row(heading: str, settings_type: type[BaseModel]) -> None:
    documented = set(ROW.findall(_section(heading)))
    missing = sorted(set(settings_type.model_fields) - documented)
    assert not missing, f"docs/configuration.md, {heading}: no row for {', '.join(missing)}"
    stale = sorted(documented - set(settings_type.model_fields))
    assert not stale, f"docs/configuration.md, {heading}: rows for no setting: {stale}"


def test_the_gateway_settings_environment_variables_are_named() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "LABELGATE_<KEY>" in text and "LABELGATE_BACKENDS__<NAME>__<KEY>" in text
    assert "LABELGATE_CONFIG" in text
