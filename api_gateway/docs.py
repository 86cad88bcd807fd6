"""The API reference pages (Swagger UI and ReDoc) with their assets served by the platform.

The assets are npm packages copied into ``web/dist/api-docs`` by the dashboard build,
so the pages render with no internet connection (FastAPI's defaults load them from a CDN).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS = "/api-docs"
# Nothing from outside: ReDoc's footer would fetch its maker's logo from a CDN.
_SAME_ORIGIN_ONLY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _SAME_ORIGIN_ONLY
    return page


def docs_router(prefix: str, openapi_url: str, title: str) -> APIRouter:
    """``{prefix}/docs`` (Swagger UI) and ``{prefix}/redoc`` (ReDoc) over ``openapi_url``."""
    router = APIRouter(include_in_schema=False)

    @router.get(f"{prefix}/docs")
    async def swagger_ui() -> HTMLResponse:
        return _same_origin_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} - API",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            )
        )

    @router.get(f"{prefix}/redoc")
    async def redoc() -> HTMLResponse:
        return _same_origin_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} - API reference",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )

    return router
