"""Whatever Docker has, one pass converges: carrying a plan out and planning again plans nothing.

Hypothesis changes a converged stack the ways Docker, a person or an interrupted pass would
(containers removed, stopped, dead, of another config, left renamed or doubled by an
interrupted start-first update; images retagged; a network gone; replicas, images and
network configs changed in the desired state) and checks that
the plan for the desired state, carried out by the strict simulator, leaves nothing to do.
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge.planning import planner
from kedge.planning.actions import PlanOptions
from kedge.planning.observed import ObservedContainer, ObservedStack
from kedge.specs import digests

from .simulate import carry_out, image_id
from .test_planner import converged, parse

converged = functools.lru_cache(maxsize=None)(converged)
parse = functools.lru_cache(maxsize=None)(parse)

STACK = """
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
    volumes: ["data:/var/lib/postgresql/data"]
    networks: [back]
  api:
    image: shop:1.4
    deploy: {replicas: 2}
    depends_on: {db: {condition: service_healthy, restart: true}}
    networks: [front, back]
    x-kedge: {update: start-first}
  web:
    image: nginx:1
    depends_on: [api]
    ports: ["8080:80"]
    networks: [front]
    x-kedge: {update: start-first}
  migrate:
    image: shop:1.4
    depends_on: {db: {condition: service_healthy}}
    networks: [back]
networks:
  front: {}
  back: {}
volumes:
  data: {}
"""

DESIRED = [
    STACK,
    STACK.replace("replicas: 2", "replicas: 4"),
    STACK.replace("replicas: 2", "replicas: 1"),
    STACK.replace("image: nginx:1", "image: nginx:2"),
    STACK.replace("  back: {}", "  back: {internal: true}"),
    STACK.replace("  web:\n    image: nginx:1", "  web:\n    image: nginx:1\n    read_only: true"),
]

STATES = ["created", "running", "restarting", "paused", "exited", "dead", "removing"]


def change_container(c: ObservedContainer, how: str, value: int) -> ObservedContainer | None:
    match how:
        case "remove":
            return None
        case "state":
            return c.model_copy(update={"state": STATES[value % 7], "exit_code": value % 3})
        case "hash":
            return c.model_copy(update={"config_hash": "sha256:older"})
        case "renamed":  # an update interrupted after renaming the old container
            return c.model_copy(update={"name": f"{c.id[:12]}_{c.name}"})
        case _:
            return c.model_copy(update={"image_id": image_id(f"old{value}")})


changes = st.lists(
    st.tuples(
        st.integers(0, 20),
        st.sampled_from(["remove", "state", "hash", "renamed", "duplicate", "image"]),
        st.integers(0, 100),
    ),
    max_size=6,
)


def duplicate(c: ObservedContainer, value: int) -> ObservedContainer:
    """The old container of an update, renamed, beside ``c`` (the new one)."""
    old_id = f"{100_000 + value:012x}".ljust(64, "0")
    return c.model_copy(
        update={"id": old_id, "name": f"{old_id[:12]}_{c.name}", "config_hash": "sha256:older"}
    )


def disturb(observed: ObservedStack, picks: list[tuple[int, str, int]]) -> ObservedStack:
    containers = list(observed.containers)
    for step, (index, how, value) in enumerate(picks):
        if not containers:
            break
        position = index % len(containers)
        if how == "duplicate":  # an update interrupted after creating the new container
            containers.append(duplicate(containers[position], step))
            continue
        changed = change_container(containers[position], how, value)
        if changed is None:
            containers.pop(position)
        else:
            containers[position] = changed
    return observed.model_copy(update={"containers": tuple(containers)})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    applied=st.sampled_from(DESIRED),
    desired=st.sampled_from(DESIRED),
    picks=changes,
    retag=st.booleans(),
    drop_network=st.booleans(),
)
def test_one_pass_converges(
    applied: str, desired: str, picks: list[tuple[int, str, int]], retag: bool, drop_network: bool
) -> None:
    before = disturb(converged(applied), picks)
    # a container in "removing" is about to go; the simulator lets Docker finish removing it
    before = before.model_copy(
        update={"containers": tuple(c for c in before.containers if c.state != "removing")}
    )
    if retag:
        before = before.model_copy(
            update={"images": {**before.images, "shop:1.4": image_id("retagged")}}
        )
    if drop_network:
        # the network went, with the containers on it (Docker refuses otherwise)
        gone = "shop_front"
        before = before.model_copy(
            update={
                "networks": tuple(n for n in before.networks if n.name != gone),
                "containers": tuple(c for c in before.containers if gone not in c.networks),
            }
        )
    spec = parse(desired)
    options = PlanOptions(allow_data_loss=True)
    plan = planner.plan(spec, before, options=options)
    after = carry_out(plan, before, spec)
    again = planner.plan(spec, after, options=options)
    assert again.render() == "", f"plan:\n{plan.render()}\nsecond pass:\n{again.render()}"
    for service, s in spec.services.items():
        mine = [c for c in after.containers if c.service == service]
        assert len(mine) == s.replicas
        assert len({c.number for c in mine}) == s.replicas  # (names may stay swapped)
        assert all(c.config_hash == digests.config_hash(spec, service) for c in mine)
