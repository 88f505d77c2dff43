"""The API's documentation page: Swagger UI served from the service itself, no CDN.

A community server may have no internet. Swagger UI's files come from ``fastapi-offline``
(which ships them); the page runs no inline script, so its Content-Security-Policy allows
scripts from this origin and nothing else, on the docs only (the public pages run none).
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
# What the docs page may load and run: its own files and the OpenAPI document, nothing else.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body>
</html>
"""


def assets_folder() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """The docs page, its start-up script and Swagger UI's files, on ``app``."""
    settings = {
        "url": app.openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        # Swagger UI would ask validator.swagger.io about the document: nothing leaves.
        "validatorUrl": None,
    }
    page = PAGE.format(title=app.title, assets=ASSETS_PATH, docs=DOCS_PATH)
    presets = "{presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]}"

    async def docs_page(_request: Request) -> Response:
        return HTMLResponse(page)

    async def docs_script(request: Request) -> Response:
        # Under a prefix (a district's /f/{fund}), the document is the prefixed one.
        url = request.scope.get("root_path", "") + str(app.openapi_url)
        options = json.dumps(settings | {"url": url})
        script = f"window.ui = SwaggerUIBundle(Object.assign({options}, {presets}));\n"
        return Response(script, media_type="text/javascript")

    # Plain routes, as FastAPI's own docs are: they look at no token.
    app.add_route(DOCS_PATH, docs_page, include_in_schema=False)
    app.add_route(f"{DOCS_PATH}/init.js", docs_script, include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_folder()), name="docs-assets")
