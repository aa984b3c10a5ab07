"""The web application: JSON API under /api, OpenAPI at /docs, the public portal's pages at /.

`create_app` assumes the database was prepared by `carbonmarket init`; it never migrates on its
own, because two servers starting at once must not race to change a production schema. `/health`
says whether the schema matches the code, so a deployment can wait for it before taking traffic.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError

from carbonmarket import __version__
from carbonmarket.api import auth, registry, users
from carbonmarket.api.deps import Services, ServicesDep
from carbonmarket.api.errors import error_response, install_error_handlers
from carbonmarket.api.limits import BodyLimit
from carbonmarket.config import Settings
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import alembic_config
from carbonmarket.identity.service import Identity
from carbonmarket.registry.service import Registry
from carbonmarket.web import pages

log = logging.getLogger(__name__)

DESCRIPTION = """\
The national carbon market's registry over HTTP.

Sign in with `POST /api/auth/token` (OAuth2 password flow), then send `Authorization: Bearer <token>`.
Every write carries a client-chosen `id`: replaying it returns the first result (`exists`, 200);
reusing it with another body is refused (409 `exists_with_different_fields`). Every error is
`{"ok": false, "code": ..., "message": ...}`.
"""

health_router = APIRouter(tags=["operations"])


@health_router.get("/health")
@health_router.head("/health", include_in_schema=False)
def health(services: ServicesDep) -> JSONResponse:
    """Whether the database answers and its schema is the one this code expects."""
    try:
        with services.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        log.warning("health check could not reach the database: %s", error)
        return error_response("database_unavailable", "the database does not answer", 503)
    if revision != services.schema_head:
        return error_response(
            "schema_out_of_date",
            f"the database is at revision {revision}, this code needs {services.schema_head}: "
            "run `carbonmarket init`",
            503,
        )
    return JSONResponse({"ok": True, "database": services.engine.dialect.name, "revision": revision})


def create_app(database_url: str, settings: Settings | None = None) -> FastAPI:
    """The API and web pages over the database at `database_url` (already set up by `carbonmarket init`)."""
    settings = settings or Settings()
    engine = make_engine(database_url)
    if engine.dialect.name != "sqlite" and settings.jwt_secret == Settings.model_fields["jwt_secret"].default:
        # Anyone who reads the source could sign tokens with the demo secret.
        log.warning("CARBONMARKET_JWT_SECRET is the public demo default; set a secret of your own")
    services = Services(
        engine=engine,
        settings=settings,
        registry=Registry(engine),
        identity=Identity(engine, settings.jwt_secret, settings.jwt_lifetime_s),
        schema_head=ScriptDirectory.from_config(alembic_config(database_url)).get_current_head(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="carbonmarket",
        version=__version__,
        description=DESCRIPTION,
        # /docs is served below from the installed swagger-ui-bundle package, not from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.include_router(health_router)
    app.include_router(auth.router)
    app.include_router(registry.router)
    app.include_router(registry.public_router)
    app.include_router(users.router)
    _include_context_routers(app)
    app.include_router(pages.router)
    # Served from the installed package (importlib), so a wheel install needs no repository checkout.
    app.mount("/static", StaticFiles(packages=[("carbonmarket.web", "static")]), name="static")
    _serve_offline_docs(app)
    return app


def _include_context_routers(app: FastAPI) -> None:
    """The routers and pages each context ships (MRV: roster, records, rules, review, verification)."""
    from carbonmarket.mrv import trace_pages
    from carbonmarket.mrv.records import api as records_api
    from carbonmarket.mrv.records import pages as records_pages
    from carbonmarket.mrv.review import api as review_api
    from carbonmarket.mrv.review import pages as review_pages
    from carbonmarket.mrv.roster import api as roster_api
    from carbonmarket.mrv.rules import api as rules_api
    from carbonmarket.mrv.verification import api as verification_api
    from carbonmarket.mrv.verification import pages as verification_pages

    for router in (
        roster_api.router,
        records_api.router,
        rules_api.router,
        review_api.router,
        verification_api.router,
        verification_api.trace_router,
        records_pages.router,
        review_pages.router,
        verification_pages.router,
        trace_pages.router,
    ):
        app.include_router(router)
    _include_market_routers(app)


def _include_market_routers(app: FastAPI) -> None:
    """Allocation, compliance, the exchange and the voluntary market (issues 4-6): API and pages."""
    import importlib

    from carbonmarket import trace_links

    trace_links.register()
    for context in ("allocation", "compliance", "exchange", "voluntary"):
        for module_name in ("api", "pages"):
            module = importlib.import_module(f"carbonmarket.{context}.{module_name}")
            app.include_router(module.router)
            # A context may ship more routers (e.g. a public one) as `extra_routers`.
            for extra in getattr(module, "extra_routers", ()):
                app.include_router(extra)


def _serve_offline_docs(app: FastAPI) -> None:
    """OpenAPI's Swagger UI from the swagger-ui-bundle package: works on a machine with no internet."""
    import swagger_ui_bundle  # type: ignore[import-untyped]
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="carbonmarket API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
