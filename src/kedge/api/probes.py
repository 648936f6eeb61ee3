"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (the database and the Docker
daemon answer), as load balancers and ``docker`` healthchecks ask them. Callers: ``api.app``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kedge import errors
from kedge.api.deps import ServicesDep
from kedge.api.models import Check, Readiness

__all__ = ["router"]

router = APIRouter(tags=["probes"])


@router.get("/healthz", response_model=dict[str, str])
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def _check_store(kedge: ServicesDep) -> Check:
    try:
        kedge.store.stacks.list(limit=1)
    except errors.KedgeError as exc:
        return Check(ok=False, detail=str(exc))
    return Check(ok=True)


def _check_engine(kedge: ServicesDep) -> Check:
    if kedge.engine is None:
        return Check(ok=False, detail="this server has no Docker engine")
    try:
        kedge.engine.ping()
    except errors.EngineError as exc:
        return Check(ok=False, detail=str(exc))
    return Check(ok=True)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def readyz(kedge: ServicesDep) -> JSONResponse:
    """Ready when the database and the Docker daemon both answer (503 otherwise)."""
    checks = {"database": _check_store(kedge), "docker": _check_engine(kedge)}
    ready = all(c.ok for c in checks.values())
    body = Readiness(ready=ready, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
