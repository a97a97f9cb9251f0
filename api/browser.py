"""The guide and the style that Neo4j Browser fetches on connect (see graph/browser.py).

Browser fetches them cross-origin from its own page (http://<neo4j>:7474), and sends
``pragma`` and ``cache-control`` headers with a guide request, so the browser asks first with
a preflight ``OPTIONS``. Both files are public and static (no patient data, no credentials),
so any origin may read them: narrowing to one origin would mean knowing every Browser that
may connect (the managed server on any port, an external server, Neo4j Desktop) and would
protect nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from caregraph.graph import browser

router = APIRouter(include_in_schema=False)

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "pragma, cache-control, content-type, accept",
    "Access-Control-Max-Age": "600",
}


@router.get(browser.GUIDE_PATH)
def guide() -> Response:
    """The Browser guide: the model in a picture and the ready queries."""
    return Response(browser.guide_html(), media_type="text/html; charset=utf-8", headers=_CORS)


@router.get(browser.STYLE_PATH)
def style() -> Response:
    """The GraSS generated from the ontology."""
    return Response(browser.style_grass(), media_type="text/plain; charset=utf-8", headers=_CORS)


@router.options(browser.GUIDE_PATH)
@router.options(browser.STYLE_PATH)
def preflight() -> Response:
    """Answer the CORS preflight Browser's guide request triggers."""
    return Response(status_code=204, headers=_CORS)
