"""CreateProject, DescribeProjects and DeleteProject.

Projects are created and deleted synchronously; DeleteProject still answers `DELETING`
because that is the status AWS returns and client code polls DescribeProjects until the
project is gone (serving.md §3.1), which it already is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.control.pagination import PageTokens, keyset_page, page_size
from labelgate.backends.local.control.tags import TagService
from labelgate.backends.local.core.arns import ArnFactory, creation_time
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import find_project
from labelgate.backends.local.store.tables import Dataset, Project, ProjectPolicy, ProjectVersion
from labelgate.errors import ResourceInUseException
from labelgate.shapes import enum_from_aws, enum_to_aws, set_timestamp
from labelgate.v1 import custom_labels_pb2 as pb

DEFAULT_PAGE_SIZE = 100
DEFAULT_FEATURE = "CUSTOM_LABELS"


def _dataset_metadata(dataset: Dataset) -> pb.DatasetMetadata:
    # All six fields always: the AWS examples read them without checks (serving.md §3.2).
    meta = pb.DatasetMetadata(
        dataset_type=enum_from_aws(pb.DatasetType.DESCRIPTOR, dataset.dataset_type),
        dataset_arn=dataset.arn,
        status=enum_from_aws(pb.DatasetStatus.DESCRIPTOR, dataset.status),
        status_message=dataset.status_message or "",
        status_message_code=enum_from_aws(
            pb.DatasetStatusMessageCode.DESCRIPTOR, dataset.status_message_code or "SUCCESS"
        ),
    )
    set_timestamp(meta.creation_timestamp, dataset.created_at)
    return meta


def _describe(project: Project, datasets: Sequence[Dataset]) -> pb.ProjectDescription:
    desc = pb.ProjectDescription(
        project_arn=project.arn,
        status=enum_from_aws(pb.ProjectStatus.DESCRIPTOR, project.status),
        feature=enum_from_aws(pb.CustomizationFeature.DESCRIPTOR, project.feature),
        datasets=[_dataset_metadata(d) for d in datasets],
    )
    set_timestamp(desc.creation_timestamp, project.created_at)
    if project.auto_update:
        desc.auto_update = enum_from_aws(pb.ProjectAutoUpdate.DESCRIPTOR, project.auto_update)
    return desc


class ProjectService:
    def __init__(self, db: Database, arns: ArnFactory, pages: PageTokens, tags: TagService):
        self._db = db
        self._arns = arns
        self._pages = pages
        self._tags = tags

    async def create_project(
        self, request: pb.CreateProjectRequest, context: RequestContext
    ) -> pb.CreateProjectResponse:
        name = request.project_name
        # An enum left at its UNSPECIFIED zero counts as absent, as the AWS member would be.
        feature = DEFAULT_FEATURE
        if request.feature:
            feature = enum_to_aws(pb.CustomizationFeature.DESCRIPTOR, request.feature)
        auto_update = None
        if request.auto_update:
            auto_update = enum_to_aws(pb.ProjectAutoUpdate.DESCRIPTOR, request.auto_update)
        arn = self._arns.project(name)
        in_use = ResourceInUseException(f"A project named {name} already exists")

        def work(session: Session) -> None:
            if session.scalar(select(exists().where(Project.name == name))):
                raise in_use
            session.add(
                Project(
                    arn=arn,
                    name=name,
                    feature=feature,
                    auto_update=auto_update,
                    status="CREATED",
                    created_at=creation_time(arn),
                )
            )
            self._tags.set_tags(session, arn, request.tags)

        try:
            await self._db.run(work)
        except IntegrityError:
            # Two concurrent creates of one name: the unique index decides, same answer.
            raise in_use from None
        return pb.CreateProjectResponse(project_arn=arn)

    async def describe_projects(
        self, request: pb.DescribeProjectsRequest, context: RequestContext
    ) -> pb.DescribeProjectsResponse:
        names = sorted(set(request.project_names))
        features = sorted(
            {enum_to_aws(pb.CustomizationFeature.DESCRIPTOR, f) for f in request.features}
        ) or [DEFAULT_FEATURE]
        scope = {"names": names, "features": features}
        after = self._pages.decode("DescribeProjects", scope, request.next_token)
        limit = page_size(request.max_results, DEFAULT_PAGE_SIZE)

        def work(session: Session) -> pb.DescribeProjectsResponse:
            stmt = select(Project).where(Project.feature.in_(features))
            if names:
                stmt = stmt.where(Project.name.in_(names))
            projects, last = keyset_page(session, stmt, Project.id, after, limit)
            datasets: dict[int, list[Dataset]] = {p.id: [] for p in projects}
            if projects:
                for d in session.scalars(
                    select(Dataset).where(Dataset.project_id.in_(datasets)).order_by(Dataset.id)
                ):
                    datasets[d.project_id].append(d)
            response = pb.DescribeProjectsResponse(
                project_descriptions=[_describe(p, datasets[p.id]) for p in projects]
            )
            if last is not None:
                response.next_token = self._pages.encode("DescribeProjects", scope, last)
            return response

        return await self._db.run(work)

    async def delete_project(
        self, request: pb.DeleteProjectRequest, context: RequestContext
    ) -> pb.DeleteProjectResponse:
        arn = request.project_arn
        in_use = ResourceInUseException(
            f"The project {arn} still has datasets or models; delete them first"
        )

        def work(session: Session) -> None:
            project = find_project(session, arn, lock=True)
            has_children = session.scalar(
                select(
                    exists().where(Dataset.project_id == project.id)
                    | exists().where(ProjectVersion.project_id == project.id)
                )
            )
            if has_children:
                raise in_use
            # Deleting a project deletes its project policies too [API], and its tags.
            session.execute(delete(ProjectPolicy).where(ProjectPolicy.project_id == project.id))
            self._tags.drop_tags(session, arn)
            session.execute(delete(Project).where(Project.id == project.id))

        try:
            await self._db.run(work)
        except IntegrityError:
            # A dataset or model was added while we deleted (the foreign key caught it).
            raise in_use from None
        return pb.DeleteProjectResponse(status=pb.PROJECT_STATUS_DELETING)
