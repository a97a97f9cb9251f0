"""Settings of the API service, read once at the edge (CLI command or FastAPI lifespan)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Where the service listens and how it bounds work."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    query_timeout_s: float = Field(default=10.0, gt=0)
