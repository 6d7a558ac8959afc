"""The local backend: Custom Labels on this machine, state in SQLite or PostgreSQL.

`LocalBackend` wires the store, the blob store and one service per resource family, and
hands each RPC to the service that owns it (`handlers()`: the service method named after the
RPC); the services hold the behaviour.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelgate.backends.base import BackendBase, RequestContext, methods_for
from labelgate.backends.local.blobs.stores import make_blob_store
from labelgate.backends.local.control.datasets import DatasetService
from labelgate.backends.local.control.pagination import PageTokens
from labelgate.backends.local.control.policies import PolicyService
from labelgate.backends.local.control.projects import ProjectService
from labelgate.backends.local.control.tags import TagService
from labelgate.backends.local.control.versions import VersionService, export
from labelgate.backends.local.core.arns import ArnFactory
from labelgate.backends.local.serving.serving_metrics import ServingMetrics
from labelgate.backends.local.serving.serving_service import (
    ServingConfig,
    ServingService,
    make_runtime,
)
from labelgate.backends.local.settings import LocalSettings
from labelgate.backends.local.store.db import Database, default_url
from labelgate.backends.local.store.tables import Setting
from labelgate.backends.local.training import TrainingService
from labelgate.backends.local.training.job_metrics import TrainingMetrics
from labelgate.backends.local.training.progress import watch
from labelgate.backends.local.training.trainer import TrainerConfig
from labelgate.v1 import custom_labels_pb2 as pb

PAGE_TOKEN_SECRET = "page_token_secret"


def _page_token_secret(db: Database) -> bytes:
    """The installation's token-signing secret, created on first start.

    Stored, not per process, so NextTokens stay valid across restarts and across gateways
    sharing one PostgreSQL database.
    """

    def load_or_create(session: Session) -> str:
        row = session.get(Setting, PAGE_TOKEN_SECRET)
        if row is None:
            row = Setting(key=PAGE_TOKEN_SECRET, value=secrets.token_hex(32))
            session.add(row)
        return row.value

    try:
        value = db.run_sync(load_or_create)
    except IntegrityError:  # another gateway created it at the same moment: use theirs
        value = db.run_sync(load_or_create)
    return bytes.fromhex(value)


class LocalBackend(BackendBase):
    name = "local"
    # Until accounts exist (the security issue), a copy has nowhere to come from.
    unimplemented = frozenset({"CopyProjectVersion"})
    settings_type = LocalSettings

    def __init__(self, *, data_dir: Path, settings: LocalSettings) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.database_url = settings.database_url or default_url(self.data_dir)
        self.arns = ArnFactory(settings.region, settings.account_id)
        self.max_project_policies = settings.max_project_policies
        self.trainer_config = TrainerConfig.from_settings(settings)
        self.serving_config = ServingConfig.from_settings(settings)
        self.training_metrics = TrainingMetrics()
        self.serving_metrics = ServingMetrics()
        self.db: Database | None = None

    def register_metrics(self, registry: Any) -> None:
        """The gateway's registry: the training and serving series appear on its /metrics
        page."""
        self.training_metrics = TrainingMetrics(registry)
        self.serving_metrics = ServingMetrics(registry)

    @classmethod
    def from_config(cls, config: LocalSettings | Mapping[str, Any], *,
                    data_dir: Path) -> LocalBackend:
        """From the typed `[backends.local]` settings, or a mapping validated into them
        (SettingsError, a ValueError, names each bad or unknown key)."""
        return cls(data_dir=Path(data_dir), settings=cls.typed_settings(config))

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        blobs = make_blob_store(self.settings, self.data_dir)
        # Opening runs the migrations: blocking work, kept off the event loop.
        db = await asyncio.to_thread(Database.open, self.database_url)
        pages = PageTokens(await asyncio.to_thread(_page_token_secret, db))
        self.tags = TagService(db)
        self.projects = ProjectService(db, self.arns, pages, self.tags)
        self.policies = PolicyService(db, pages, max_policies=self.max_project_policies)
        self.datasets = DatasetService(db, blobs, self.arns, pages, self.tags)
        self.training = TrainingService(db, blobs, self.arns, self.tags, data_dir=self.data_dir,
                                        config=self.trainer_config,
                                        metrics=self.training_metrics)
        self.serving = ServingService(
            db, blobs, make_runtime(self.serving_config, self.settings, self.data_dir),
            data_dir=self.data_dir, config=self.serving_config, metrics=self.serving_metrics,
        )
        self.versions = VersionService(db, pages, self.tags, blobs=blobs,
                                       data_dir=self.data_dir,
                                       running_units=self.serving.inference_units_status)
        self.blobs = blobs
        self.db = db
        await self.datasets.resume()
        await self.training.resume()
        await self.serving.resume()

    async def stop(self) -> None:
        if self.db is None:
            return
        try:
            await self.serving.close()
            await self.training.close()
            await self.datasets.close()
        finally:
            self.db.close()
            self.db = None

    def owns_arn(self, arn: str) -> bool:
        return self.arns.owns(arn)

    def handlers(self) -> dict[str, Any]:
        """Each operation's handler: the method named after it on the service that owns it
        (found, not listed: a new RPC needs only its method on the right service)."""
        return methods_for(self.projects, self.datasets, self.training, self.versions,
                           self.serving, self.policies, self.tags, self)

    # labelgate extensions (server streaming) that belong to no single service
    def watch_project_version(
        self, request: pb.WatchProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.WatchProjectVersionResponse]:
        assert self.db is not None
        return watch(self.db, self.training.hub, request.project_version_arn)

    def export_project_version(
        self, request: pb.ExportProjectVersionRequest, context: RequestContext
    ) -> AsyncIterator[pb.ExportProjectVersionResponse]:
        assert self.db is not None
        return export(self.db, self.blobs, request.project_version_arn)


__all__ = ["LocalBackend", "LocalSettings"]
