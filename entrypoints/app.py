"""The WSGI application: routes a request to its service and turns errors into answers."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING

import attrs

from adapters import logs
from domain.errors import RequestError, TilegateError
from entrypoints import demo
from entrypoints.auth import AUTHORIZE, private
from entrypoints.bootstrap import AppState
from entrypoints.http import PROXY_VARY, Environ, Request, Response, StartResponse
from entrypoints.kml import KMLService
from entrypoints.ogc import NotFoundError, ogcapi_error, ows_error, tms_error
from entrypoints.tms import TMSService
from entrypoints.wms import WMSService
from entrypoints.wmts import WMTSService

if TYPE_CHECKING:
    from entrypoints.ogcapi import OGCAPIService

ErrorRenderer = Callable[[TilegateError], Response]
# No OGC request needs more; gunicorn stops at 4094 bytes for the whole request line, but a
# server without such a limit must not have us parse megabytes of parameters.
MAX_QUERY_BYTES = 65536
_ACCESS_LEVEL = logging.getLogger(logs.ACCESS)
_WMS_REQUESTS = frozenset(
    {
        "getmap",
        "map",
        "getcapabilities",
        "capabilities",
        "getfeatureinfo",
        "getlegendgraphic",
        "feature_info",
    }
)


@attrs.define
class TilegateApp:
    """A WSGI app serving one configuration."""

    state: AppState
    tms: TMSService | None = None
    wmts: WMTSService | None = None
    wms: WMSService | None = None
    kml: KMLService | None = None
    ogcapi: OGCAPIService | None = None
    # Development only: an unexpected error answers with its traceback.
    debug: bool = False

    @classmethod
    def from_state(cls, state: AppState, debug: bool = False) -> TilegateApp:
        services = state.conf.services
        return cls(
            state,
            tms=TMSService.build(state) if services.tms is not None else None,
            wmts=WMTSService.build(state) if services.wmts is not None else None,
            wms=WMSService.build(state) if services.wms is not None else None,
            kml=KMLService.build(state) if services.kml is not None else None,
            ogcapi=_ogcapi(state) if services.ogcapi is not None else None,
            debug=debug,
        )

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        # The access line costs one level check per request unless mapproxy.access is at DEBUG.
        started = (
            time.perf_counter() if _ACCESS_LEVEL.isEnabledFor(logging.DEBUG) else None
        )
        try:
            response = self.dispatch(request)
        except Exception:
            logs.get_logger(logs.SYSTEM).exception("unhandled error", path=request.path)
            body = traceback.format_exc() if self.debug else "internal error\n"
            response = Response(500, body.encode())
        if AUTHORIZE in environ:
            response = private(response)
        if started is not None:
            logs.get_logger(logs.ACCESS).debug(
                "request",
                method=request.method,
                path=_full_path(environ),
                status=response.status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                client=environ.get("REMOTE_ADDR", "-"),
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(
                405, b"method not allowed\n", headers=[("Allow", "GET, HEAD")]
            )
        if len(request.environ.get("QUERY_STRING", "")) > MAX_QUERY_BYTES:
            return Response(414, b"query string too long\n")
        parts = request.path.split("/")
        root = parts[1] if len(parts) > 1 else ""
        render: ErrorRenderer = tms_error
        try:
            if root == "tms" and self.tms is not None:
                if len(parts) < 3 or parts[2] != "1.0.0":
                    raise NotFoundError("TMS is served under /tms/1.0.0/")
                return self.tms.handle(request, parts[3:], own_levels=False)
            if root == "tiles" and self.tms is not None:
                return self.tms.handle(request, parts[2:], own_levels=True)
            if root == "kml" and self.kml is not None:
                return self.kml.handle(request, parts[2:])
            if root == "ogcapi" and self.ogcapi is not None:
                render = ogcapi_error
                return self.ogcapi.handle(request, parts[2:])
            render = ows_error
            if root == "wmts" and self.wmts is not None:
                return self.wmts.handle_rest(request, request.path[len("/wmts") :])
            if root in ("service", "ows", "wms") and len(parts) == 2:
                return self.kvp(request, root)
            if root == "demo" and self.state.conf.services.demo is not None:
                return demo.handle(request, self.state, "/".join(parts[2:]))
            if request.path == "/":
                return self.welcome(request)
            return Response(404, b"not found\n")
        except TilegateError as error:
            if not isinstance(error, RequestError):
                logs.get_logger(logs.SYSTEM).warning(
                    "request failed", path=request.path, error=str(error)
                )
            return render(self.state.error_details.public(error))

    def kvp(self, request: Request, root: str) -> Response:
        service = request.args.get("service", "").upper()
        if service == "WMTS" and self.wmts is not None and self.wmts.kvp:
            return self.wmts.handle_kvp(request)
        # As MapProxy: `/wms` is WMS, and so is a WMS request that does not name its service
        # (a WMS request name, or WMTVER, which only WMS 1.0.0 has).
        if self.wms is not None and (
            service == "WMS"
            or (not service and (root == "wms" or "wmtver" in request.args))
            or (
                not service and request.args.get("request", "").lower() in _WMS_REQUESTS
            )
        ):
            return self.wms.handle(request)
        if not service:
            raise RequestError(
                "missing parameter SERVICE",
                param="service",
                code="MissingParameterValue",
            )
        raise NotFoundError(f"service {service!r} is not offered here", param="service")

    def welcome(self, request: Request) -> Response:
        services = self.state.conf.services
        links = []
        if services.demo is not None:
            links.append(("demo/", "Demo"))
        if services.tms is not None:
            links.append(("tms/1.0.0/", "TMS capabilities"))
        if services.wmts is not None:
            links.append(("wmts/1.0.0/WMTSCapabilities.xml", "WMTS capabilities"))
        if services.ogcapi is not None:
            links.append(("ogcapi", "OGC API landing page"))
        base = escape(request.base_url, quote=True)
        items = "".join(
            f'<li><a href="{base}/{href}">{escape(label)}</a></li>'
            for href, label in links
        )
        body = f"<!doctype html><html><head><title>Tilegate</title></head><body><h1>Tilegate</h1><ul>{items}</ul></body></html>"
        return Response(
            200,
            body.encode(),
            "text/html; charset=utf-8",
            [("Vary", PROXY_VARY)],
        )


def _full_path(environ: Environ) -> str:
    """The path as the client asked for it, prefix and query included."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _ogcapi(state: AppState) -> OGCAPIService:
    # Imported here: its modules (and the CRSs they make at import) cost every start of a
    # configuration without services.ogcapi, which never uses them.
    from entrypoints.ogcapi import OGCAPIService

    return OGCAPIService.build(state)
