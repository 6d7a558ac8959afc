"""botocore's Rekognition service model, loaded once: the AWS API this one mirrors.

The request constraints (constraints.py) and the CLI's commands, parameters and help
(cli/) are read from it, so both follow the pinned botocore exactly.
"""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import ServiceModel


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("rekognition")


__all__ = ["service_model"]
