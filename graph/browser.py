"""Neo4j Browser for analysts: the settings that make the managed server's Browser apply
caregraph's style and open caregraph's guide on connect, with no manual step.

Neo4j cannot host static files, so the guide (``graph/browser/guide.html``) and the style
(``ontology/generated/caregraph.grass``) are served by caregraph's API service at
:data:`GUIDE_PATH` and :data:`STYLE_PATH`; Neo4j's ``browser.post_connect_cmd`` runs
``:style <url>`` and ``:play <url>`` against it, and the host is put on Browser's allow-list for
remote content. The setting names are the ones Neo4j 5.26 declares (ServerSettings; its strict
config check refuses any other) and Browser 5.24 reads; Browser splits the command on ``;`` and
runs each part as ``:<part>``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from caregraph.ontology.model import ONTOLOGY_DIR

ASSETS = Path(__file__).resolve().with_name("browser")
GUIDE_FILE = ASSETS / "guide.html"
STYLE_FILE = ONTOLOGY_DIR / "generated" / "caregraph.grass"
GUIDE_PATH = "/browser/guide.html"
STYLE_PATH = "/browser/caregraph.grass"

# Addresses a server listens on that a web browser cannot be sent to.
_ANY_ADDRESS = {"0.0.0.0", "::", "[::]", ""}  # noqa: S104 - compared against, never bound


class BrowserSettings(BaseSettings):
    """Where Neo4j Browser fetches caregraph's guide and style: the API service's address.

    Read from the same variables as the API's own settings (``CAREGRAPH_API_HOST``,
    ``CAREGRAPH_API_PORT``), so the managed server points at wherever ``caregraph serve`` runs.
    """

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def base_url(self) -> str:
        """The API's URL as a web browser on this machine reaches it."""
        host = "127.0.0.1" if self.host in _ANY_ADDRESS else self.host
        if ":" in host and not host.startswith("["):  # an IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def guide_url(self) -> str:
        return self.base_url + GUIDE_PATH

    @property
    def style_url(self) -> str:
        return self.base_url + STYLE_PATH


def post_connect_command(settings: BrowserSettings) -> str:
    """What Browser runs once connected: apply the style, then open the guide."""
    return f"style {settings.style_url}; play {settings.guide_url}"


def neo4j_config(settings: BrowserSettings) -> dict[str, str]:
    """The neo4j.conf lines that give every Browser session caregraph's style and guide."""
    hostname = urlsplit(settings.base_url).hostname or "127.0.0.1"
    allowed = dict.fromkeys([hostname, "localhost", "127.0.0.1"])  # ordered, no duplicates
    return {
        "browser.post_connect_cmd": post_connect_command(settings),
        # hostnames only (Browser compares the URL's hostname, not its port or path)
        "browser.remote_content_hostname_whitelist": ",".join(allowed),
        # Browser reaches nothing but this server and caregraph's API. (Neo4j 5.26 declares no
        # browser.allow_outgoing_connections: its strict config check refuses to start with it.)
        "client.allow_telemetry": "false",
    }


def guide_html() -> str:
    """The guide page, as committed (``python -m caregraph.graph.guide`` regenerates it)."""
    return GUIDE_FILE.read_text(encoding="utf-8")


def style_grass() -> str:
    """The GraSS generated from the ontology (``caregraph ontology generate``)."""
    return STYLE_FILE.read_text(encoding="utf-8")
