"""The planner's rules, one table row each, compared as ``Plan.render()`` text (issue 4, *Plan*).

Desired states are small YAML texts parsed by ``loader.parse``; observed states are built by
carrying a plan out on nothing (``converged``) and then changed the way Docker or a person
would change them. Every row also checks that carrying its plan out and planning again plans
nothing: the planner converges in one pass.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from kedge.errors import PlanError
from kedge.planning import planner
from kedge.planning.actions import Action, ActionKind, Plan, PlanOptions, PlanRefused
from kedge.planning.observed import ObservedStack
from kedge.specs import loader
from kedge.specs.stack import StackSpec

from .simulate import carry_out, image_id

SHOP = """
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
    volumes: ["data:/var/lib/postgresql/data"]
  web:
    image: shop:1.4
    depends_on: {db: {condition: service_healthy}}
    ports: ["8080:80"]
volumes:
  data: {}
"""


def parse(text: str) -> StackSpec:
    return loader.parse(textwrap.dedent(text))


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


def nothing(text: str = SHOP) -> ObservedStack:
    """A stack with no objects yet, whose images are all present."""
    spec = parse(text)
    refs = {s.image or f"{spec.name}-{n}" for n, s in spec.services.items()}
    return ObservedStack(stack=spec.name, images={ref: image_id(ref) for ref in sorted(refs)})


def converged(text: str = SHOP) -> ObservedStack:
    """What Docker has after a stack was applied from nothing."""
    spec = parse(text)
    start = nothing(text)
    return carry_out(planner.plan(spec, start), start, spec)


Change = Callable[[ObservedStack], ObservedStack]


def container(named: str, **update: object) -> Change:
    """Change one container as Docker or a person would."""

    def change(observed: ObservedStack) -> ObservedStack:
        found = [c for c in observed.containers if c.name == named]
        assert found, named
        kept = tuple(c for c in observed.containers if c.name != named)
        return observed.model_copy(
            update={"containers": (*kept, found[0].model_copy(update=update))}
        )

    return change


def removed(name: str) -> Change:
    def change(observed: ObservedStack) -> ObservedStack:
        kept = tuple(c for c in observed.containers if c.name != name)
        assert len(kept) < len(observed.containers), name
        return observed.model_copy(update={"containers": kept})

    return change


def retagged(ref: str, tag: str) -> Change:
    def change(observed: ObservedStack) -> ObservedStack:
        return observed.model_copy(update={"images": {**observed.images, ref: image_id(tag)}})

    return change


def untagged(ref: str) -> Change:
    def change(observed: ObservedStack) -> ObservedStack:
        images = {k: v for k, v in observed.images.items() if k != ref}
        return observed.model_copy(update={"images": images})

    return change


def apply(observed: ObservedStack, *changes: Change) -> ObservedStack:
    for change in changes:
        observed = change(observed)
    return observed


def expect(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def check_converges(
    spec: StackSpec | None, observed: ObservedStack, plan: Plan, *, options: PlanOptions
) -> None:
    after = carry_out(plan, observed, spec)
    again = planner.plan(spec, after, options=options)
    assert again.render() == "", f"a second pass plans:\n{again.render()}"


ONE_SHOT = """
name: shop
services:
  migrate:
    image: busybox:1
    command: [sh, -c, "echo migrated"]
  web:
    image: shop:1.4
    depends_on: {migrate: {condition: service_completed_successfully}}
"""

WORKERS = """
name: shop
services:
  worker:
    image: busybox:1
    deploy: {replicas: 3}
"""

NETWORKS = """
name: shop
services:
  proxy:
    image: nginx:1
    networks: [front]
  api:
    image: shop:1.4
    networks: [front, back]
  db:
    image: postgres:16
    networks: [back]
networks:
  front: {}
  back: {}
"""

START_FIRST = """
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
  web:
    image: shop:1.4
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: [CMD, wget, -q, localhost]}
    expose: ["80"]
    x-kedge: {update: start-first}
"""

BUILT = """
name: shop
services:
  web:
    build: .
"""

RESTARTING = """
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
  web:
    image: shop:1.4
    depends_on: {db: {condition: service_healthy, restart: true}}
  admin:
    image: shop:1.4
    depends_on: [db]
"""

EXTERNAL = """
name: shop
services:
  web:
    image: shop:1.4
    networks: [edge]
networks:
  edge: {external: true, name: traefik}
"""

OPTIONAL = """
name: shop
services:
  cache:
    image: redis:7
    healthcheck: {test: [CMD, redis-cli, ping]}
  web:
    image: shop:1.4
    depends_on: {cache: {condition: service_healthy, required: false}}
"""

JOINED = """
name: shop
services:
  vpn:
    image: busybox:1
  app:
    image: shop:1.4
    network_mode: service:vpn
"""


APPLY = [
    pytest.param(
        SHOP,
        nothing,
        """
        1  create_network   network:shop_default: missing
        1  create_volume    volume:shop_data: missing
        2  create_container container:shop-db-1: missing
        2  create_container container:shop-web-1: missing
        3  start_container  container:shop-db-1: missing
        4  wait:healthy     service:db: web depends on it
        5  start_container  container:shop-web-1: missing
        """,
        id="missing-everything",
    ),
    pytest.param(SHOP, converged, "", id="no-op"),
    pytest.param(
        edit(SHOP, ("    ports", "    environment: {MODE: fast}\n    ports")),
        converged,
        """
        1  wait:healthy     service:db: web depends on it
        2  stop_container   container:shop-web-1: config changed
        3  remove_container container:shop-web-1: config changed
        4  create_container container:shop-web-1: config changed
        5  start_container  container:shop-web-1: config changed
        """,
        id="config-change-recreates-only-it",
    ),
    pytest.param(
        SHOP,
        lambda: apply(converged(), retagged("shop:1.4", "newer")),
        """
        1  wait:healthy     service:db: web depends on it
        2  stop_container   container:shop-web-1: image shop:1.4 now resolves to 6e6577657200
        3  remove_container container:shop-web-1: image shop:1.4 now resolves to 6e6577657200
        4  create_container container:shop-web-1: image shop:1.4 now resolves to 6e6577657200
        5  start_container  container:shop-web-1: image shop:1.4 now resolves to 6e6577657200
        """,
        id="image-tag-moved",
    ),
    pytest.param(
        SHOP,
        lambda: apply(converged(), untagged("postgres:16")),
        """
        1  pull_image       image:postgres:16: not present
        2  stop_container   container:shop-db-1: image postgres:16 not present
        3  remove_container container:shop-db-1: image postgres:16 not present
        4  create_container container:shop-db-1: image postgres:16 not present
        5  start_container  container:shop-db-1: image postgres:16 not present
        """,
        id="image-gone-pulled",
    ),
    pytest.param(
        BUILT,
        lambda: apply(nothing(BUILT), untagged("shop-web")),
        """
        1  create_network   network:shop_default: missing
        1  build_image      image:shop-web: not present
        2  create_container container:shop-web-1: missing
        3  start_container  container:shop-web-1: missing
        """,
        id="image-missing-built",
    ),
    pytest.param(
        SHOP,
        lambda: apply(converged(), container("shop-web-1", state="exited", exit_code=137)),
        """
        1  wait:healthy     service:db: web depends on it
        2  start_container  container:shop-web-1: exited with code 137
        """,
        id="stopped-started",
    ),
    pytest.param(
        SHOP,
        lambda: apply(converged(), container("shop-db-1", state="created")),
        """
        1  start_container  container:shop-db-1: created, not started
        """,
        id="created-started",
    ),
    pytest.param(
        ONE_SHOT,
        lambda: apply(
            converged(ONE_SHOT), container("shop-migrate-1", state="exited", exit_code=0)
        ),
        "",
        id="one-shot-done-left-alone",
    ),
    pytest.param(
        ONE_SHOT,
        lambda: apply(
            converged(ONE_SHOT), container("shop-migrate-1", state="exited", exit_code=1)
        ),
        """
        1  start_container  container:shop-migrate-1: exited with code 1
        """,
        id="one-shot-failed-started",
    ),
    pytest.param(
        edit(ONE_SHOT, ("    command", "    restart: always\n    command")),
        lambda: apply(
            converged(edit(ONE_SHOT, ("    command", "    restart: always\n    command"))),
            container("shop-migrate-1", state="exited", exit_code=0),
        ),
        """
        1  start_container  container:shop-migrate-1: exited with code 0
        """,
        id="exited-0-under-restart-always-started",
    ),
    pytest.param(
        SHOP,
        lambda: apply(converged(), container("shop-db-1", state="dead")),
        """
        1  remove_container container:shop-db-1: dead
        2  create_container container:shop-db-1: dead
        3  start_container  container:shop-db-1: dead
        """,
        id="dead-recreated",
    ),
    pytest.param(
        WORKERS,
        lambda: converged(edit(WORKERS, ("replicas: 3", "replicas: 1"))),
        """
        1  create_container container:shop-worker-2: missing replica 2
        1  create_container container:shop-worker-3: missing replica 3
        2  start_container  container:shop-worker-2: missing replica 2
        2  start_container  container:shop-worker-3: missing replica 3
        """,
        id="scale-up",
    ),
    pytest.param(
        edit(WORKERS, ("replicas: 3", "replicas: 1")),
        lambda: converged(WORKERS),
        """
        1  stop_container   container:shop-worker-2: scaled down to 1 replica
        1  stop_container   container:shop-worker-3: scaled down to 1 replica
        2  remove_container container:shop-worker-2: scaled down to 1 replica
        2  remove_container container:shop-worker-3: scaled down to 1 replica
        """,
        id="scale-down-removes-highest-first",
    ),
    pytest.param(
        edit(WORKERS, ("replicas: 3", "replicas: 0")),
        lambda: converged(WORKERS),
        """
        1  stop_container   container:shop-worker-1: scaled down to 0 replicas
        1  stop_container   container:shop-worker-2: scaled down to 0 replicas
        1  stop_container   container:shop-worker-3: scaled down to 0 replicas
        2  remove_container container:shop-worker-1: scaled down to 0 replicas
        2  remove_container container:shop-worker-2: scaled down to 0 replicas
        2  remove_container container:shop-worker-3: scaled down to 0 replicas
        """,
        id="scale-to-zero",
    ),
    pytest.param(
        edit(WORKERS, ("replicas: 3", "replicas: 4")),
        lambda: apply(converged(WORKERS), removed("shop-worker-2")),
        """
        1  create_container container:shop-worker-2: missing replica 2
        1  create_container container:shop-worker-4: missing replica 4
        2  start_container  container:shop-worker-2: missing replica 2
        2  start_container  container:shop-worker-4: missing replica 4
        """,
        id="scale-up-fills-lowest-free-numbers",
    ),
    pytest.param(
        WORKERS,
        lambda: apply(converged(WORKERS), removed("shop-worker-3")),
        """
        1  create_container container:shop-worker-3: missing replica 3
        2  start_container  container:shop-worker-3: missing replica 3
        """,
        id="removed-by-hand-restored",
    ),
    pytest.param(
        WORKERS,
        lambda: apply(converged(WORKERS), container("shop-worker-3", number=1)),
        """
        1  stop_container   container:shop-worker-3: duplicate of replica 1
        2  remove_container container:shop-worker-3: duplicate of replica 1
        3  create_container container:shop-worker-3: missing replica 3
        4  start_container  container:shop-worker-3: missing replica 3
        """,
        id="duplicate-number-removed",
    ),
    pytest.param(
        SHOP,
        lambda: converged(
            edit(SHOP, ("volumes:\n  data", "  cache:\n    image: redis:7\nvolumes:\n  data"))
        ),
        """
        1  stop_container   container:shop-cache-1: service cache no longer desired
        2  remove_container container:shop-cache-1: service cache no longer desired
        """,
        id="removed-service",
    ),
    pytest.param(
        edit(NETWORKS, ("  back: {}", "  back: {internal: true}")),
        lambda: converged(NETWORKS),
        """
        1  stop_container   container:shop-api-1: network shop_back recreated
        1  stop_container   container:shop-db-1: network shop_back recreated
        2  remove_container container:shop-api-1: network shop_back recreated
        2  remove_container container:shop-db-1: network shop_back recreated
        3  remove_network   network:shop_back: config changed, recreated
        4  create_network   network:shop_back: config changed
        5  create_container container:shop-api-1: network shop_back recreated
        5  create_container container:shop-db-1: network shop_back recreated
        6  start_container  container:shop-api-1: network shop_back recreated
        6  start_container  container:shop-db-1: network shop_back recreated
        """,
        id="network-change-recreates-its-containers",
    ),
    pytest.param(
        edit(
            NETWORKS,
            ("networks: [front, back]", "networks: [front]"),
            ("networks: [back]", "networks: [front]"),
            ("  back: {}\n", ""),
        ),
        lambda: converged(NETWORKS),
        """
        1  stop_container   container:shop-api-1: network shop_back no longer desired
        1  stop_container   container:shop-db-1: network shop_back no longer desired
        2  remove_container container:shop-api-1: network shop_back no longer desired
        2  remove_container container:shop-db-1: network shop_back no longer desired
        3  remove_network   network:shop_back: no longer desired
        4  create_container container:shop-api-1: network shop_back no longer desired
        4  create_container container:shop-db-1: network shop_back no longer desired
        5  start_container  container:shop-api-1: network shop_back no longer desired
        5  start_container  container:shop-db-1: network shop_back no longer desired
        """,
        id="network-no-longer-desired",
    ),
    pytest.param(
        edit(START_FIRST, ("    expose", "    environment: {MODE: fast}\n    expose")),
        lambda: converged(START_FIRST),
        """
        1  wait:healthy     service:db: web depends on it
        2  rename_container container:shop-web-1: config changed, start-first
        3  create_container container:shop-web-1: config changed, start-first
        4  start_container  container:shop-web-1: config changed, start-first
        5  wait:healthy     container:shop-web-1: config changed, start-first: ready before the old one stops
        6  stop_container   container:000000000002_shop-web-1: config changed, start-first
        7  remove_container container:000000000002_shop-web-1: config changed, start-first
        """,  # noqa: E501
        id="start-first",
    ),
    pytest.param(
        edit(
            START_FIRST,
            ("    expose", "    container_name: web\n    environment: {MODE: fast}\n    expose"),
        ),
        lambda: converged(edit(START_FIRST, ("    expose", "    container_name: web\n    expose"))),
        """
        1  wait:healthy     service:db: web depends on it
        2  stop_container   container:web: config changed, stop-first (start-first blocked: container_name web)
        3  remove_container container:web: config changed, stop-first (start-first blocked: container_name web)
        4  create_container container:web: config changed, stop-first (start-first blocked: container_name web)
        5  start_container  container:web: config changed, stop-first (start-first blocked: container_name web)
        """,  # noqa: E501
        id="start-first-refused-container-name",
    ),
    pytest.param(
        edit(START_FIRST, ('expose: ["80"]', 'ports: ["8080:80"]\n    environment: {MODE: fast}')),
        lambda: converged(edit(START_FIRST, ('expose: ["80"]', 'ports: ["8080:80"]'))),
        """
        1  wait:healthy     service:db: web depends on it
        2  stop_container   container:shop-web-1: config changed, stop-first (start-first blocked: host port 8080)
        3  remove_container container:shop-web-1: config changed, stop-first (start-first blocked: host port 8080)
        4  create_container container:shop-web-1: config changed, stop-first (start-first blocked: host port 8080)
        5  start_container  container:shop-web-1: config changed, stop-first (start-first blocked: host port 8080)
        """,  # noqa: E501
        id="start-first-refused-host-port",
    ),
    pytest.param(
        edit(RESTARTING, ("pg_isready]}", "pg_isready]}\n    environment: {X: '1'}")),
        lambda: converged(RESTARTING),
        """
        1  stop_container   container:shop-db-1: config changed
        2  remove_container container:shop-db-1: config changed
        3  create_container container:shop-db-1: config changed
        4  start_container  container:shop-db-1: config changed
        5  wait:healthy     service:db: web depends on it
        6  stop_container   container:shop-web-1: dependency db recreated (restart: true)
        7  start_container  container:shop-web-1: dependency db recreated (restart: true)
        """,
        id="restart-true-restarts-dependent",
    ),
    pytest.param(
        EXTERNAL,
        lambda: nothing(EXTERNAL).model_copy(update={"external_networks": frozenset({"traefik"})}),
        """
        1  create_container container:shop-web-1: missing
        2  start_container  container:shop-web-1: missing
        """,
        id="external-network-present",
    ),
    pytest.param(
        OPTIONAL,
        lambda: nothing(OPTIONAL),
        """
        1  create_network   network:shop_default: missing
        2  create_container container:shop-cache-1: missing
        2  create_container container:shop-web-1: missing
        3  start_container  container:shop-cache-1: missing
        4  wait:healthy     service:cache: web depends on it (required: false)
        5  start_container  container:shop-web-1: missing
        """,
        id="optional-dependency",
    ),
]


APPLY += [
    pytest.param(
        edit(JOINED, ("image: busybox:1", "image: busybox:1\n    environment: {A: '1'}")),
        lambda: converged(JOINED),
        """
        1  stop_container   container:shop-vpn-1: config changed
        2  remove_container container:shop-vpn-1: config changed
        3  create_container container:shop-vpn-1: config changed
        4  start_container  container:shop-vpn-1: config changed
        5  stop_container   container:shop-app-1: joins the network namespace of vpn, recreated
        6  remove_container container:shop-app-1: joins the network namespace of vpn, recreated
        7  create_container container:shop-app-1: joins the network namespace of vpn, recreated
        8  start_container  container:shop-app-1: joins the network namespace of vpn, recreated
        """,
        id="joined-network-namespace-recreated-with-its-service",
    ),
    pytest.param(
        JOINED,
        lambda: apply(converged(JOINED), container("shop-vpn-1", state="paused")),
        """
        1  resume_container container:shop-vpn-1: paused
        """,
        id="paused-resumed",
    ),
    # as compose, whose hash holds the donor's container id: the old container is gone, and
    # Docker would refuse to start (or restart) one that names it
    pytest.param(
        edit(
            JOINED,
            ("network_mode: service:vpn", "ipc: service:vpn\n    volumes_from: [vpn]"),
            ("image: busybox:1", "image: busybox:1\n    environment: {A: '1'}"),
        ),
        lambda: converged(
            edit(JOINED, ("network_mode: service:vpn", "ipc: service:vpn\n    volumes_from: [vpn]"))
        ),
        """
        1  stop_container   container:shop-vpn-1: config changed
        2  remove_container container:shop-vpn-1: config changed
        3  create_container container:shop-vpn-1: config changed
        4  start_container  container:shop-vpn-1: config changed
        5  stop_container   container:shop-app-1: joins the IPC namespace of vpn, recreated
        6  remove_container container:shop-app-1: joins the IPC namespace of vpn, recreated
        7  create_container container:shop-app-1: joins the IPC namespace of vpn, recreated
        8  start_container  container:shop-app-1: joins the IPC namespace of vpn, recreated
        """,
        id="ipc-namespace-and-volumes-recreated-with-their-service",
    ),
    pytest.param(
        edit(
            JOINED,
            ("network_mode: service:vpn", "volumes_from: ['vpn:ro']\n    pid: service:vpn"),
            ("image: busybox:1", "image: busybox:1\n    environment: {A: '1'}"),
        ),
        lambda: converged(
            edit(
                JOINED,
                ("network_mode: service:vpn", "volumes_from: ['vpn:ro']\n    pid: service:vpn"),
            )
        ),
        """
        1  stop_container   container:shop-vpn-1: config changed
        2  remove_container container:shop-vpn-1: config changed
        3  create_container container:shop-vpn-1: config changed
        4  start_container  container:shop-vpn-1: config changed
        5  stop_container   container:shop-app-1: joins the PID namespace of vpn, recreated
        6  remove_container container:shop-app-1: joins the PID namespace of vpn, recreated
        7  create_container container:shop-app-1: joins the PID namespace of vpn, recreated
        8  start_container  container:shop-app-1: joins the PID namespace of vpn, recreated
        """,
        id="pid-namespace-recreated-with-its-service",
    ),
    pytest.param(
        edit(
            JOINED,
            ("network_mode: service:vpn", "volumes_from: [vpn]"),
            ("image: busybox:1", "image: busybox:1\n    environment: {A: '1'}"),
        ),
        lambda: converged(edit(JOINED, ("network_mode: service:vpn", "volumes_from: [vpn]"))),
        """
        1  stop_container   container:shop-vpn-1: config changed
        2  remove_container container:shop-vpn-1: config changed
        3  create_container container:shop-vpn-1: config changed
        4  start_container  container:shop-vpn-1: config changed
        5  stop_container   container:shop-app-1: takes the volumes of vpn, recreated
        6  remove_container container:shop-app-1: takes the volumes of vpn, recreated
        7  create_container container:shop-app-1: takes the volumes of vpn, recreated
        8  start_container  container:shop-app-1: takes the volumes of vpn, recreated
        """,
        id="volumes-from-recreated-with-their-service",
    ),
    pytest.param(
        edit(START_FIRST, ('expose: ["80"]', "network_mode: host\n    environment: {A: '1'}")),
        lambda: converged(edit(START_FIRST, ('expose: ["80"]', "network_mode: host"))),
        """
        1  wait:healthy     service:db: web depends on it
        2  stop_container   container:shop-web-1: config changed, stop-first (start-first blocked: network_mode host)
        3  remove_container container:shop-web-1: config changed, stop-first (start-first blocked: network_mode host)
        4  create_container container:shop-web-1: config changed, stop-first (start-first blocked: network_mode host)
        5  start_container  container:shop-web-1: config changed, stop-first (start-first blocked: network_mode host)
        """,  # noqa: E501
        id="start-first-refused-host-network",
    ),
]


@pytest.mark.parametrize(("desired", "observed", "expected"), APPLY)
def test_apply(desired: str, observed: Callable[[], ObservedStack], expected: str) -> None:
    spec = parse(desired)
    before = observed()
    plan = planner.plan(spec, before)
    assert plan.render() == expect(expected), plan.render()
    check_converges(spec, before, plan, options=PlanOptions())


DELETE = [
    pytest.param(
        SHOP,
        PlanOptions(),
        """
        1  stop_container   container:shop-web-1: stack deleted
        2  stop_container   container:shop-db-1: stack deleted
        3  remove_container container:shop-db-1: stack deleted
        3  remove_container container:shop-web-1: stack deleted
        4  remove_network   network:shop_default: stack deleted
        """,
        id="dependents-first-volumes-kept",
    ),
    pytest.param(
        SHOP,
        PlanOptions(remove_volumes=True),
        """
        1  stop_container   container:shop-web-1: stack deleted
        2  stop_container   container:shop-db-1: stack deleted
        3  remove_container container:shop-db-1: stack deleted
        3  remove_container container:shop-web-1: stack deleted
        4  remove_network   network:shop_default: stack deleted
        4  remove_volume    volume:shop_data: stack deleted with its volumes
        """,
        id="with-volumes",
    ),
    pytest.param(
        NETWORKS,
        PlanOptions(),
        """
        1  stop_container   container:shop-api-1: stack deleted
        1  stop_container   container:shop-db-1: stack deleted
        1  stop_container   container:shop-proxy-1: stack deleted
        2  remove_container container:shop-api-1: stack deleted
        2  remove_container container:shop-db-1: stack deleted
        2  remove_container container:shop-proxy-1: stack deleted
        3  remove_network   network:shop_back: stack deleted
        3  remove_network   network:shop_front: stack deleted
        """,
        id="no-dependencies-one-wave",
    ),
]


@pytest.mark.parametrize(("applied", "options", "expected"), DELETE)
def test_delete(applied: str, options: PlanOptions, expected: str) -> None:
    before = converged(applied)
    plan = planner.plan(None, before, options=options)
    assert plan.render() == expect(expected), plan.render()
    after = carry_out(plan, before, None)
    assert not after.containers
    assert not after.networks
    assert bool(after.volumes) is (bool(before.volumes) and not options.remove_volumes)
    assert planner.plan(None, after, options=options).render() == ""


def test_delete_of_nothing_plans_nothing() -> None:
    assert planner.plan(None, ObservedStack(stack="shop")).is_empty


def changed_volume(observed: ObservedStack) -> ObservedStack:
    volumes = tuple(v.model_copy(update={"config_hash": "older"}) for v in observed.volumes)
    return observed.model_copy(update={"volumes": volumes})


def test_a_changed_volume_is_refused_without_consent() -> None:
    before = apply(converged(), changed_volume)
    with pytest.raises(PlanRefused) as refused:
        planner.plan(parse(SHOP), before)
    assert refused.value.plan.render() == expect(
        """
        !! refused         volume:shop_data: config changed; recreating it loses its data (needs allow_data_loss)
        """  # noqa: E501
    )
    assert "volume:shop_data: config changed; recreating it loses its data" in str(refused.value)
    assert not refused.value.temporary  # data loss needs a new version's consent: no retry


def test_a_changed_volume_is_recreated_with_its_containers_when_data_loss_is_allowed() -> None:
    spec = parse(SHOP)
    before = apply(converged(), changed_volume)
    options = PlanOptions(allow_data_loss=True)
    plan = planner.plan(spec, before, options=options)
    assert plan.render() == expect(
        """
        1  stop_container   container:shop-db-1: volume shop_data recreated
        2  remove_container container:shop-db-1: volume shop_data recreated
        3  remove_volume    volume:shop_data: config changed; data loss allowed
        4  create_volume    volume:shop_data: config changed; data loss allowed
        5  create_container container:shop-db-1: volume shop_data recreated
        6  start_container  container:shop-db-1: volume shop_data recreated
        """
    )
    check_converges(spec, before, plan, options=options)


def test_a_missing_external_network_is_refused() -> None:
    before = nothing(EXTERNAL).model_copy(update={"external_networks": frozenset()})
    with pytest.raises(PlanRefused, match="create it with `docker network create traefik`") as e:
        planner.plan(parse(EXTERNAL), before)
    assert e.value.temporary  # creating the network clears it: the controller retries


def test_volumes_no_longer_desired_are_kept() -> None:
    before = converged()
    spec = parse(edit(SHOP, ('    volumes: ["data:/var/lib/postgresql/data"]\n', "")))
    plan = planner.plan(spec, before)
    assert "volume" not in plan.render()
    assert "remove_container container:shop-db-1: config changed" in plan.render()


def test_an_unknown_container_state_of_another_stack_is_not_read() -> None:
    # observe filters by label; the planner still refuses to mix stacks up
    with pytest.raises(PlanError, match="desired stack shop planned against observed other"):
        planner.plan(parse(SHOP), ObservedStack(stack="other"))


def test_a_missing_image_shared_by_services_is_pulled_once() -> None:
    text = edit(SHOP, ("image: postgres:16", "image: shop:1.4"))
    plan = planner.plan(parse(text), apply(nothing(text), untagged("shop:1.4")))
    assert [a.target for a in plan.actions if a.kind == "pull_image"] == ["image:shop:1.4"]


def test_a_build_is_redone_when_its_build_section_changed() -> None:
    applied = edit(BUILT, ("build: .", "build: {context: ., args: {V: '1'}}"))
    plan = planner.plan(parse(BUILT), converged(applied))
    assert plan.render().splitlines()[0] == (
        "1  build_image      image:shop-web: build context or section changed"
    )


def test_a_build_is_redone_even_when_no_container_shows_the_change() -> None:
    # the container was removed by hand: only the image's label says what it was built from
    applied = edit(BUILT, ("build: .", "build: {context: ., args: {V: '1'}}"))
    plan = planner.plan(parse(BUILT), apply(converged(applied), removed("shop-web-1")))
    assert plan.render().splitlines()[0] == (
        "1  build_image      image:shop-web: build context or section changed"
    )


def test_a_change_outside_the_build_section_recreates_without_rebuilding() -> None:
    applied = edit(BUILT, ("build: .", "build: .\n    environment: {A: '1'}"))
    plan = planner.plan(parse(BUILT), converged(applied))
    assert "build_image" not in plan.render()
    assert "create_container container:shop-web-1: config changed" in plan.render()


def test_an_image_kedge_did_not_build_is_built() -> None:
    plan = planner.plan(parse(BUILT), nothing(BUILT))  # present, but with no build-hash label
    assert "1  build_image      image:shop-web: not built by Kedge from it" in plan.render()


def test_the_order_of_keys_in_the_spec_does_not_change_the_plan() -> None:
    reordered = """
    name: shop
    volumes:
      data: {}
    services:
      web:
        ports: ["8080:80"]
        depends_on: {db: {condition: service_healthy}}
        image: shop:1.4
      db:
        volumes: ["data:/var/lib/postgresql/data"]
        healthcheck: {test: [CMD, pg_isready]}
        image: postgres:16
    """
    assert planner.plan(parse(reordered), nothing()) == planner.plan(parse(SHOP), nothing())


# the plan is a DAG now (issue 15): levels replace waves, and each step of the chain comes
# after the one before it through the edges (``after``), not only by its level
def test_the_levels_and_edges_of_a_plan_follow_depends_on() -> None:
    plan = planner.plan(parse(SHOP), nothing())
    chain = [
        ("create_network", "network:shop_default"),
        ("create_container", "container:shop-web-1"),
        ("start_container", "container:shop-db-1"),
        ("wait", "service:db"),
        ("start_container", "container:shop-web-1"),
    ]
    found = {(a.kind.value, a.target): a for a in plan.actions}
    levels = [found[key].level for key in chain]
    assert levels == sorted(set(levels))
    assert comes_after(plan, found["wait", "service:db"], found["start_container", chain[2][1]])
    assert comes_after(plan, found["start_container", chain[4][1]], found["wait", "service:db"])
    assert not comes_after(
        plan, found["create_container", chain[1][1]], found["wait", "service:db"]
    )


def comes_after(plan: Plan, later: Action, earlier: Action) -> bool:
    """Whether ``later`` waits for ``earlier``, directly or through other actions."""
    by_id = {a.id: a for a in plan.actions}
    todo, seen = list(later.after), set()
    while todo:
        n = todo.pop()
        if n == earlier.id:
            return True
        if n not in seen:
            seen.add(n)
            todo += by_id[n].after
    return False


def test_containers_that_name_other_containers_are_created_in_their_layer() -> None:
    plan = planner.plan(parse(JOINED), nothing(JOINED))
    assert plan.render() == expect(
        """
        1  create_network   network:shop_default: missing
        2  create_container container:shop-vpn-1: missing
        3  start_container  container:shop-vpn-1: missing
        4  create_container container:shop-app-1: missing
        5  start_container  container:shop-app-1: missing
        """
    )


def test_a_depends_on_cycle_fails_the_plan_naming_it() -> None:
    from kedge.planning.desired import DesiredService, DesiredStack
    from kedge.planning.waves import Dependency

    desired = DesiredStack(
        "shop",
        services={
            "a": DesiredService("a", "h", "x", dependencies=(Dependency("b"),)),
            "b": DesiredService("b", "h", "x", dependencies=(Dependency("a"),)),
        },
    )
    with pytest.raises(PlanError, match="depends_on cycle: a -> b -> a"):
        planner.plan_desired(desired, ObservedStack(stack="shop"), options=PlanOptions())


def test_start_first_waits_started_without_a_healthcheck() -> None:
    applied = edit(START_FIRST, ("    healthcheck: {test: [CMD, wget, -q, localhost]}\n", ""))
    desired = edit(applied, ("    expose", "    environment: {MODE: fast}\n    expose"))
    plan = planner.plan(parse(desired), converged(applied))
    waits = [a for a in plan.actions if a.target == "container:shop-web-1" and a.kind == "wait"]
    assert [w.condition for w in waits] == ["started"]


def interrupted_start_first(*, new_created: bool) -> tuple[StackSpec, ObservedStack]:
    """A start-first update that stopped after renaming the old container (and maybe after
    creating and starting the new one): what the next pass finds."""
    desired = edit(START_FIRST, ("    expose", "    environment: {MODE: fast}\n    expose"))
    spec, before = parse(desired), converged(START_FIRST)
    plan = planner.plan(spec, before)
    done = 3 if new_created else 1  # rename | rename, create, start
    partial = plan.model_copy(  # levels where waves were (issue 15): the same numbers here
        update={"actions": tuple(a for a in plan.actions if a.level <= done + 1)}
    )
    partial = partial.model_copy(
        update={"actions": tuple(a for a in partial.actions if a.kind != "wait")}
    )
    return spec, carry_out(partial, before, spec)


def test_an_interrupted_start_first_update_keeps_the_new_container() -> None:
    spec, before = interrupted_start_first(new_created=True)
    assert sorted(c.name for c in before.containers) == [
        "000000000002_shop-web-1",
        "shop-db-1",
        "shop-web-1",
    ]
    plan = planner.plan(spec, before)
    assert plan.render() == expect(
        """
        1  stop_container   container:000000000002_shop-web-1: duplicate of replica 1
        2  remove_container container:000000000002_shop-web-1: duplicate of replica 1
        """
    )
    check_converges(spec, before, plan, options=PlanOptions())


def test_an_interrupted_start_first_update_is_not_renamed_twice() -> None:
    spec, before = interrupted_start_first(new_created=False)
    assert sorted(c.name for c in before.containers) == ["000000000002_shop-web-1", "shop-db-1"]
    plan = planner.plan(spec, before)
    assert plan.render() == expect(
        """
        1  wait:healthy     service:db: web depends on it
        2  create_container container:shop-web-1: config changed, start-first
        3  start_container  container:shop-web-1: config changed, start-first
        4  wait:healthy     container:shop-web-1: config changed, start-first: ready before the old one stops
        5  stop_container   container:000000000002_shop-web-1: config changed, start-first
        6  remove_container container:000000000002_shop-web-1: config changed, start-first
        """  # noqa: E501
    )
    check_converges(spec, before, plan, options=PlanOptions())


def test_a_container_left_under_a_temporary_name_is_renamed_back() -> None:
    spec = parse(START_FIRST)
    before = apply(converged(START_FIRST), container("shop-web-1", name="abc_shop-web-1"))
    plan = planner.plan(spec, before)
    assert (
        plan.render() == "1  rename_container container:abc_shop-web-1: renamed back to shop-web-1"
    )
    check_converges(spec, before, plan, options=PlanOptions())


def test_a_network_and_a_volume_of_one_name_are_told_apart() -> None:
    text = edit(
        SHOP,
        ("    ports", "    networks: [data]\n    ports"),
        ("volumes:\n  data: {}", "volumes:\n  data: {}\nnetworks:\n  data: {}"),
    )
    before = apply(converged(text), changed_volume)
    plan = planner.plan(parse(text), before, options=PlanOptions(allow_data_loss=True))
    assert "shop-web-1" not in plan.render()  # it uses the network shop_data, not the volume
    assert "remove_container container:shop-db-1: volume shop_data recreated" in plan.render()


def test_an_image_named_by_its_id_is_neither_pulled_nor_recreated() -> None:
    pinned = image_id("pinned")
    text = edit(SHOP, ("image: shop:1.4", f"image: {pinned}"))
    start = nothing(text).model_copy(update={"images": {"postgres:16": image_id("postgres:16")}})
    spec = parse(text)
    plan = planner.plan(spec, start)
    assert "pull_image" not in plan.render()
    after = carry_out(
        plan, start.model_copy(update={"images": {**start.images, pinned: pinned}}), spec
    )
    after = after.model_copy(update={"images": start.images})  # observe leaves ids out
    assert planner.plan(spec, after).render() == ""


# -- pull_policy, as compose's `up` carries it out ------------------------------------------

APPLYING = PlanOptions(refresh_images=True)
ALWAYS = edit(SHOP, ("image: postgres:16", "image: postgres:16\n    pull_policy: always"))


def test_pull_policy_always_pulls_at_every_apply_but_not_at_a_resync() -> None:
    plan = planner.plan(parse(ALWAYS), converged(ALWAYS), options=APPLYING)
    assert plan.render() == "1  pull_image       image:postgres:16: pull_policy always"
    assert planner.plan(parse(ALWAYS), converged(ALWAYS)).render() == ""  # drift repair


@pytest.mark.parametrize("policy", ["missing", "if_not_present"])
def test_pull_policy_missing_pulls_only_what_is_not_present(policy: str) -> None:
    text = edit(SHOP, ("image: shop:1.4", f"image: shop:1.4\n    pull_policy: {policy}"))
    assert planner.plan(parse(text), converged(text), options=APPLYING).render() == ""
    plan = planner.plan(parse(text), apply(nothing(text), untagged("shop:1.4")))
    assert [a.target for a in plan.actions if a.kind == "pull_image"] == ["image:shop:1.4"]


def test_pull_policy_never_refuses_a_missing_image() -> None:
    text = edit(SHOP, ("image: shop:1.4", "image: shop:1.4\n    pull_policy: never"))
    with pytest.raises(PlanRefused) as refused:
        planner.plan(parse(text), apply(nothing(text), untagged("shop:1.4")), options=APPLYING)
    assert refused.value.plan.render().splitlines()[-1] == (
        "!! refused         image:shop:1.4: not present, and service web has pull_policy"
        " never: load or build it"
    )
    assert refused.value.temporary  # loading the image clears it: the controller retries
    assert planner.plan(parse(text), converged(text), options=APPLYING).render() == ""


def test_pull_policy_build_builds_at_every_apply() -> None:
    text = edit(BUILT, ("build: .", "build: .\n    pull_policy: build"))
    plan = planner.plan(parse(text), converged(text), options=APPLYING)
    assert plan.render() == "1  build_image      image:shop-web: pull_policy build"
    assert planner.plan(parse(text), converged(text)).render() == ""


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("daily", "pull_policy 'daily' is not carried out by Kedge yet"),
        ("every_12h", "pull_policy 'every_12h' is not carried out by Kedge yet"),
        ("build", "pull_policy 'build' needs a build section"),
    ],
)
def test_pull_policies_kedge_cannot_carry_out_fail_the_plan(policy: str, message: str) -> None:
    text = edit(SHOP, ("image: shop:1.4", f"image: shop:1.4\n    pull_policy: {policy}"))
    with pytest.raises(PlanError, match=message):
        planner.plan(parse(text), nothing(text))


ANONYMOUS_VOLUME = ("/var/lib/data", "a" * 64)


def test_a_recreated_container_mounts_the_anonymous_volumes_of_the_one_it_replaces() -> None:
    changed = edit(JOINED, ("image: busybox:1", "image: busybox:1\n    environment: {A: '1'}"))
    before = apply(converged(JOINED), container("shop-vpn-1", anonymous=(ANONYMOUS_VOLUME,)))
    plan = planner.plan(parse(changed), before)
    created = {a.name: a.inherit for a in plan.actions if a.kind is ActionKind.CREATE_CONTAINER}
    assert created == {"shop-vpn-1": (ANONYMOUS_VOLUME,), "shop-app-1": ()}


def test_a_delete_with_volumes_removes_the_anonymous_ones_too() -> None:
    before = apply(converged(JOINED), container("shop-vpn-1", anonymous=(ANONYMOUS_VOLUME,)))
    for options, expected in ((PlanOptions(), ()), (PlanOptions(remove_volumes=True), ("a" * 64,))):
        plan = planner.plan(None, before, options=options)
        removing = {
            a.name: a.anonymous_volumes
            for a in plan.actions
            if a.kind is ActionKind.REMOVE_CONTAINER
        }
        assert removing == {"shop-vpn-1": expected, "shop-app-1": ()}


TWO_GATES = """
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
  cache:
    image: redis:7
    healthcheck: {test: [CMD, redis-cli, ping]}
  web:
    image: shop:1.4
    depends_on: {db: {condition: service_healthy}}
  worker:
    image: shop:1.4
    depends_on: {cache: {condition: service_healthy}}
"""


def test_a_gate_holds_back_its_dependents_and_nothing_else() -> None:
    """web starts once db is healthy, whatever cache does (issue 15: the waves held both)."""
    plan = planner.plan(parse(TWO_GATES), nothing(TWO_GATES))
    assert plan.render_graph() == expect(
        """
        [] -> #1 create_network network:shop_default: missing
        [1] -> #2 create_container container:shop-cache-1: missing
        [1] -> #3 create_container container:shop-db-1: missing
        [1] -> #4 create_container container:shop-web-1: missing
        [1] -> #5 create_container container:shop-worker-1: missing
        [2] -> #6 start_container container:shop-cache-1: missing
        [3] -> #7 start_container container:shop-db-1: missing
        [6] -> #8 wait:healthy service:cache: worker depends on it
        [7] -> #9 wait:healthy service:db: web depends on it
        [4,9] -> #10 start_container container:shop-web-1: missing
        [5,8] -> #11 start_container container:shop-worker-1: missing
        """
    )


def test_an_unrelated_service_starts_while_another_is_recreated() -> None:
    """mail's start waits for its own create only; the waves put it after cache's recreation."""
    desired = edit(
        TWO_GATES, ("  worker:", "  mail:\n    image: mail:1\n  worker:"), ("s:7", "s:8")
    )
    plan = planner.plan(parse(desired), converged(TWO_GATES))
    assert plan.render() == expect(
        """
        1  pull_image       image:redis:8: not present
        1  pull_image       image:mail:1: not present
        2  create_container container:shop-mail-1: missing
        2  stop_container   container:shop-cache-1: config changed
        3  remove_container container:shop-cache-1: config changed
        3  start_container  container:shop-mail-1: missing
        4  create_container container:shop-cache-1: config changed
        5  start_container  container:shop-cache-1: config changed
        """
    )
    assert "[3] -> #6 start_container container:shop-mail-1" in plan.render_graph()
