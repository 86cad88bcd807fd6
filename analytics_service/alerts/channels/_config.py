"""Channel configurations as pydantic models: unknown fields refused, errors per field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from analytics_service.alerts.channels.errors import ChannelConfigError
from analytics_service.alerts.channels.safe_http import DestinationRefused, check_url
from shared.config import Settings


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


C = TypeVar("C", bound=ChannelConfig)


def parse(model: type[C], config: Mapping[str, Any]) -> C:
    """``config`` as ``model``, or the first problem as a ``ChannelConfigError``."""
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "config"
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        raise ChannelConfigError(field, message) from None


def check_destination_url(field: str, url: str, settings: Settings) -> None:
    """The outbound rules applied to a URL at save time (resolves it: blocking)."""
    try:
        check_url(url, settings)
    except DestinationRefused as exc:
        raise ChannelConfigError(field, exc.reason) from exc
