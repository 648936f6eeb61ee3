"""Problems: every error the API answers, as ``application/problem+json`` (RFC 9457).

Each Kedge error class maps to one HTTP status and one stable ``type`` URI, so that clients
(the CLI first) branch on ``type`` and never on the wording of ``detail``. Spec errors carry
one entry per broken rule with its file, line, column, field path and a hint.

Callers: ``api.app`` installs ``install_handlers``; the CLI reads the ``type`` URIs back.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from kedge import errors

__all__ = [
    "MEDIA_TYPE",
    "TYPE_BASE",
    "AsciiJSONResponse",
    "Problem",
    "ProblemError",
    "SpecProblem",
    "answer",
    "install_handlers",
    "problem_responses",
]

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://kedge.dev/problems/"


class SpecProblem(BaseModel):
    """One broken rule of a spec: where it is, what is wrong, how to fix it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int | None = None
    column: int | None = None
    path: str = ""
    message: str
    hint: str = ""


class Problem(BaseModel):
    """An RFC 9457 problem document; ``errors`` lists each broken spec rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[SpecProblem] = []


class ProblemError(Exception):
    """Raised by routes for a problem that no Kedge error names (e.g. a bad cursor)."""

    def __init__(self, status: int, kind: str, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail


# (error class, status, type slug, title), most specific first
_MAPPING: list[tuple[type[errors.KedgeError], int, str, str]] = [
    (errors.SpecError, 422, "invalid-spec", "The spec is invalid"),
    (errors.ConflictError, 409, "conflict", "The request conflicts with the store"),
    (errors.NotFoundError, 404, "not-found", "Not found"),
    (errors.QueryError, 400, "invalid-query", "The query is invalid"),
    (errors.PlanError, 422, "unplannable", "The desired state cannot be planned"),
    (errors.EngineUnavailable, 503, "engine-unavailable", "The Docker daemon does not answer"),
    (errors.StoreError, 503, "store-unavailable", "The database is unavailable"),
    (errors.EngineError, 502, "engine-error", "The Docker engine failed"),
    (errors.KedgeError, 500, "internal", "Kedge failed"),
]

_HTTP_KINDS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a spec may smuggle in lone surrogates
    (YAML's ``\\ud800`` escapes), which UTF-8 cannot encode; escaped, they travel intact."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def answer(problem: Problem) -> JSONResponse:
    """The problem+json answer of ``problem``."""
    return AsciiJSONResponse(
        problem.model_dump(exclude_defaults=True) | {"type": problem.type},
        status_code=problem.status,
        media_type=MEDIA_TYPE,
    )


def _spec_problems(exc: errors.SpecError) -> list[SpecProblem]:
    found = exc.errors if isinstance(exc, errors.SpecErrors) else [exc]
    return [
        SpecProblem(
            file=e.location.file,
            line=e.location.line,
            column=e.location.column,
            path=e.location.path,
            message=e.message,
            hint=e.hint,
        )
        for e in found
    ]


def problem_of(exc: errors.KedgeError, *, instance: str = "") -> Problem:
    """The problem document of a Kedge error."""
    for cls, status, slug, title in _MAPPING:
        if isinstance(exc, cls):
            spec = _spec_problems(exc) if isinstance(exc, errors.SpecError) else []
            detail = exc.render() if isinstance(exc, errors.SpecError) else str(exc)
            return Problem(
                type=TYPE_BASE + slug,
                title=title,
                status=status,
                detail=detail,
                instance=instance,
                errors=spec,
            )
    raise AssertionError("KedgeError is the last row of the mapping")  # pragma: no cover


async def _on_kedge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.KedgeError)
    return answer(problem_of(exc, instance=request.url.path))


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return answer(
        Problem(
            type=TYPE_BASE + exc.kind,
            title=exc.title,
            status=exc.status,
            detail=exc.detail,
            instance=request.url.path,
        )
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    ]
    return answer(
        Problem(
            type=TYPE_BASE + "invalid-request",
            title="The request is invalid",
            status=422,
            detail="; ".join(details),
            instance=request.url.path,
        )
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind, title = _HTTP_KINDS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else ""
    return answer(
        Problem(
            type=TYPE_BASE + kind,
            title=title,
            status=exc.status_code,
            detail=detail if detail != title else "",
            instance=request.url.path,
        )
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: still problem+json (starlette logs the traceback and re-raises it)."""
    return answer(
        Problem(
            type=TYPE_BASE + "internal",
            title="Kedge failed",
            status=500,
            detail=f"an unexpected {type(exc).__name__}; the server log has the details",
            instance=request.url.path,
        )
    )


def install_handlers(app: FastAPI) -> None:
    """Answer every error of the app as problem+json."""
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_exception_handler(errors.KedgeError, _on_kedge_error)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route may answer."""
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": "A problem"}
        for status in statuses
    }
