"""The image reconciler: build an image from its context, or pull it (one action each).

A build uses the service's ``build`` section: the context (already resolved against the spec
file's folder by the loader), ``dockerfile``, ``args``, ``target``, ``labels``, ``network``,
``extra_hosts``, ``shm_size``, ``no_cache``, ``pull``, ``cache_from``, ``isolation``, and tags the
result with the action's reference and every ``build.tags`` entry. Keys the classic builder
cannot carry out (``dockerfile_inline``, ``ssh``, ``secrets``, ``additional_contexts``,
``cache_to``, ``platforms``, ``entitlements``, ``privileged``, ``ulimits``, remote contexts) fail
with a ``PlanError`` naming the key. Called by ``reconcilers.executor``.
"""

from __future__ import annotations

from kedge.errors import PlanError
from kedge.planning.actions import Action
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine
from kedge.specs import labels
from kedge.specs.compose import Build

__all__ = ["build_image", "pull_image"]

_NOT_YET = (
    "dockerfile_inline",
    "ssh",
    "secrets",
    "additional_contexts",
    "cache_to",
    "platforms",
    "entitlements",
    "privileged",
    "ulimits",
)


def _built(action: Action) -> dict[str, str]:
    """The label that says what the image was built from (``digests.build_hash``)."""
    return {labels.BUILD_HASH: action.config_hash} if action.config_hash else {}


def build_image(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    service = action.service or ""
    build = spec.services[service].build
    if build is None:
        raise PlanError(f"services.{service} has no build section to build {action.name} from")
    must_be_built(build, service=service)
    image = engine.build_image(
        build.context,
        tag=action.name,
        dockerfile=build.dockerfile,
        buildargs={k: v for k, v in build.args.items() if v is not None},
        target=build.target,
        labels={**{k: v or "" for k, v in build.labels.items()}, **_built(action)},
        network_mode=build.network,
        extra_hosts={h: ips[0] for h, ips in build.extra_hosts.items() if ips},
        shm_size=build.shm_size,
        no_cache=build.no_cache,
        pull=build.pull,
        cache_from=list(build.cache_from),
        isolation=build.isolation,
    )
    for tag in build.tags:
        engine.tag_image(image, tag)


def pull_image(engine: Engine, action: Action, *, desired: Desired) -> None:
    engine.pull_image(action.name)


def must_be_built(build: Build, *, service: str) -> None:
    """Raise ``PlanError`` naming the first build key the classic builder cannot carry out."""
    for key in _NOT_YET:
        if getattr(build, key):
            raise PlanError(
                f"services.{service}.build.{key} is not carried out by Kedge yet; remove it"
            )
    if build.context.startswith(("http://", "https://", "git://", "git@", "ssh://")):
        raise PlanError(f"services.{service}.build.context: remote contexts are not supported yet")
