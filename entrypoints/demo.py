"""The /demo/ page (placeholder until the demo lands)."""

from __future__ import annotations

from entrypoints.bootstrap import AppState
from entrypoints.http import Request, Response


def handle(request: Request, state: AppState, subpath: str) -> Response:
    return Response(404, b"not found\n")
