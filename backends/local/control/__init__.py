"""The control plane: projects, datasets and their entries, model versions' records, tags
and project policies — the synchronous RPCs and the dataset jobs behind them.

    projects.py      CreateProject, DescribeProjects, DeleteProject
    datasets.py      CreateDataset … DistributeDatasetEntries (the RPCs)
    dataset_jobs.py  import, copy, update, distribute, delete: the background half
    versions.py      DescribeProjectVersions, DeleteProjectVersion, ExportProjectVersion
    tags.py          TagResource, UntagResource, ListTagsForResource
    policies.py      PutProjectPolicy, ListProjectPolicies, DeleteProjectPolicy
    pagination.py    opaque, tamper-proof page tokens

The control plane may use training (to remove a version's job) but nothing below imports it.
"""
