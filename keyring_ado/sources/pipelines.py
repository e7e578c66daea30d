"""Azure Pipelines: the job's ``System.AccessToken``, only for the job's own organisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceUnavailable
from ..feeds import organization_of_collection
from ..token import Kind, Token
from .base import Source

if TYPE_CHECKING:
    from .base import Request


class AzurePipelinesSource(Source):
    """``SYSTEM_ACCESSTOKEN`` when ``TF_BUILD`` is set and the feed is in ``SYSTEM_COLLECTIONURI``."""

    name = "SYSTEM_ACCESSTOKEN"
    server_capable = False  # a job token, not a PAT
    signs_in = False

    def __init__(
        self, *, tf_build: bool = False, access_token: str | None = None, collection_uri: str | None = None
    ) -> None:
        self.tf_build, self.access_token, self.collection_uri = tf_build, access_token, collection_uri

    def get_token(self, request: Request) -> Token:
        feed = request.feed
        if not self.tf_build:
            raise SourceUnavailable("not running in Azure Pipelines (TF_BUILD is not set)")
        if not self.access_token:
            raise SourceUnavailable(
                "TF_BUILD is set but SYSTEM_ACCESSTOKEN is not; map it in the step with "
                "`env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"
            )
        organization = organization_of_collection(self.collection_uri or "")
        if organization is None:
            raise SourceUnavailable(
                f"{names.COLLECTION_URI[0]} is missing or not an Azure DevOps Services URL, so the job "
                "token's organisation is unknown"
            )
        if feed.organization is None:
            raise SourceUnavailable(f"{feed.host} alone names no organisation; the job token is for {organization}")
        if feed.organization.lower() != organization.lower():
            raise SourceUnavailable(
                f"the job token belongs to {organization}, not {feed.organization}; it is never sent to "
                "another organisation"
            )
        return Token(self.access_token, Kind.JOB, source=self.name)
