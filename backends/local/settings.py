"""`LocalSettings`: the typed `[backends.local]` table, `LocalBackend.settings_type`.

One model of every key of the table. Each part declares its own keys where it lives, so the
layers below this package never import upwards: the trainer's (`TrainingKeys`,
training/trainer.py), serving's with the triton runtime's (`ServingKeys`, `TritonKeys`,
serving/), the blob store's (`BlobStoreKeys`, blobs/stores.py); the store and ARN keys are
declared here. The gateway validates the table into this type when its settings load
(server/config.py), so a bad value stops the start naming `backends.local.<key>`;
TrainerConfig and ServingConfig are views of it. docs/configuration.md describes every key.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from labelgate.backends.local.blobs.stores import BlobStoreKeys
from labelgate.backends.local.control.policies import DEFAULT_MAX_POLICIES
from labelgate.backends.local.core.arns import DEFAULT_ACCOUNT, DEFAULT_REGION
from labelgate.backends.local.serving.serving_service import ServingKeys
from labelgate.backends.local.training.trainer import TrainingKeys


class LocalSettings(TrainingKeys, ServingKeys, BlobStoreKeys):
    """Every key of `[backends.local]` (all optional)."""

    # None: SQLite in <data_dir>/labelgate.db (store/db.py default_url).
    database_url: str | None = None
    region: str = DEFAULT_REGION  # in every ARN
    account_id: str = DEFAULT_ACCOUNT  # in every ARN
    max_project_policies: int = Field(DEFAULT_MAX_POLICIES, ge=1)

    @field_validator("region")
    @classmethod
    def _region(cls, region: str) -> str:
        # It ends up in every ARN, which must match the API model's patterns.
        if not re.fullmatch(r"[a-z\d-]+", region):
            raise ValueError(f"must match [a-z0-9-]+, got {region!r}")
        return region

    @field_validator("account_id")
    @classmethod
    def _account(cls, account: str) -> str:
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"must be 12 digits, got {account!r}")
        return account


__all__ = ["LocalSettings"]
