"""Cross-field rules: compose's consistency checks and Kedge's own, each valid and invalid."""

from __future__ import annotations

import textwrap

import pytest

from kedge.errors import SpecError, SpecErrors
from kedge.specs import loader, validation

VALID = [
    pytest.param(
        """
        services:
          web: {image: a, depends_on: {db: {condition: service_healthy}}}
          db: {image: b}
        """,
        id="depends-on-defined",
    ),
    pytest.param(
        """
        services:
          web: {image: a, depends_on: {debug: {condition: service_started, required: false}}}
          debug: {image: b, profiles: [debug]}
        """,
        id="optional-dependency-on-disabled-service",
    ),
    pytest.param(
        """
        services:
          web: {image: a}
          debug: {image: b, profiles: [debug], networks: [nowhere], depends_on: [ghost]}
        """,
        id="disabled-service-not-checked",
    ),
    pytest.param(
        """
        services:
          web: {image: a, ports: ['8080:80', '8081:80', '127.0.0.1:9000:80', '9000:80/udp']}
          api: {image: a, ports: ['127.0.0.2:9000:80', '80', '7000-7010:80']}
          other: {image: a, ports: ['7005-7006:80']}
        """,
        id="distinct-host-ports",
    ),
    pytest.param(
        """
        services:
          web: {image: a, container_name: web, deploy: {replicas: 1}}
          job: {build: ., network_mode: 'service:web'}
        """,
        id="container-name-one-replica-and-network-mode-service",
    ),
    pytest.param(
        """
        services:
          web:
            image: a
            volumes: ['data:/d', './x:/x', /anon]
            networks: {front: {aliases: [w]}}
            secrets: [token]
            configs: [conf]
            build: {context: ., secrets: [token]}
        networks: {front: }
        volumes: {data: }
        secrets: {token: {file: ./missing-is-fine.txt}}
        configs: {conf: {file: ./conf.ini}}
        """,
        id="references-defined",
    ),
    pytest.param(
        """
        services:
          web: {image: a, cpus: 1.5, mem_limit: 1g,
                deploy: {resources: {limits: {cpus: '1.5', memory: 1024m}}}}
        """,
        id="same-values-twice",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nsecrets:\n  ext: {external: true}\n",
        id="external-secret",
    ),
]


@pytest.mark.parametrize("text", VALID)
def test_valid_stacks_pass(text: str) -> None:
    loader.parse(textwrap.dedent(text), name="demo")


INVALID = [
    pytest.param(
        "services:\n  web: {restart: always}\n",
        "neither an image nor a build context",
        "services.web",
        id="no-image-no-build",
    ),
    pytest.param(
        "services:\n  web: {image: a, depends_on: [db]}\n",
        "depends on undefined service 'db'",
        "services.web.depends_on.db",
        id="undefined-dependency",
    ),
    pytest.param(
        """
        services:
          web: {image: a, depends_on: [debug]}
          debug: {image: b, profiles: [debug]}
        """,
        "depends on undefined service 'debug'",
        "services.web.depends_on.debug",
        id="required-dependency-on-disabled-service",
    ),
    pytest.param(
        """
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: {c: {condition: service_healthy}}}
          c: {image: x, depends_on: [a]}
        """,
        "dependency cycle detected: a -> b -> c -> a",
        "services.a.depends_on",
        id="cycle",
    ),
    pytest.param(
        "services:\n  a: {image: x, depends_on: [a]}\n",
        "dependency cycle detected: a -> a",
        "services.a.depends_on",
        id="self-dependency",
    ),
    pytest.param(
        """
        services:
          a: {image: x, links: [b]}
          b: {image: x, network_mode: 'service:a'}
        """,
        "dependency cycle detected: a -> b -> a",
        "services.a.depends_on",
        id="implied-cycle",
    ),
    pytest.param(
        "services:\n  web: {image: a, networks: [front]}\n",
        "undefined network 'front'",
        "services.web.networks.front",
        id="undefined-network",
    ),
    pytest.param(
        "services:\n  web: {image: a, volumes: ['data:/d']}\n",
        "undefined volume 'data'",
        "services.web.volumes[0]",
        id="undefined-volume",
    ),
    pytest.param(
        "services:\n  web: {image: a, secrets: [token]}\n",
        "undefined secret 'token'",
        "services.web.secrets[0]",
        id="undefined-secret",
    ),
    pytest.param(
        "services:\n  web: {image: a, configs: [{source: conf}]}\n",
        "undefined config 'conf'",
        "services.web.configs[0]",
        id="undefined-config",
    ),
    pytest.param(
        "services:\n  web: {build: {context: ., secrets: [npm]}}\n",
        "undefined build secret 'npm'",
        "services.web.build.secrets[0]",
        id="undefined-build-secret",
    ),
    pytest.param(
        "services:\n  web: {image: a, network_mode: 'service:db'}\n",
        "not found for network_mode",
        "services.web.network_mode",
        id="network-mode-service",
    ),
    pytest.param(
        "services:\n  web: {image: a, network_mode: host, networks: [default]}\n",
        "mutually exclusive 'network_mode' and 'networks'",
        "services.web.network_mode",
        id="network-mode-and-networks",
    ),
    pytest.param(
        """
        services:
          web: {image: a, ports: ['8080:80']}
          api: {image: a, ports: ['0.0.0.0:8080:81']}
        """,
        "host port 8080/tcp is published twice",
        "services.api.ports[0]",
        id="host-port-twice",
    ),
    pytest.param(
        "services:\n  web: {image: a, ports: ['8080-8082:80-82', '8082:90']}\n",
        "host port 8082/tcp is published twice",
        "services.web.ports[3]",
        id="host-port-twice-in-range",
    ),
    pytest.param(
        "services:\n  web: {image: a, container_name: web, deploy: {replicas: 2}}\n",
        "container_name is set but the service runs 2 replicas",
        "services.web.container_name",
        id="container-name-replicas",
    ),
    pytest.param(
        "services:\n  web: {image: a, mem_limit: 1g,"
        " deploy: {resources: {limits: {memory: 2g}}}}\n",
        "'mem_limit' and 'deploy.resources.limits.memory'",
        "services.web.mem_limit",
        id="mem-limit-twice",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nsecrets:\n  token: {name: t}\n",
        "must declare either 'file' or 'environment'",
        "secrets.token",
        id="secret-without-source",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nsecrets:\n  token: {file: ./t, environment: T}\n",
        "mutually exclusive",
        "secrets.token",
        id="secret-two-sources",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nconfigs:\n  c: {labels: [a=b]}\n",
        "one of file|environment|content must be set",
        "configs.c",
        id="config-without-source",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nconfigs:\n  c: {file: ./c, content: x}\n",
        "mutually exclusive",
        "configs.c",
        id="config-two-sources",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nvolumes:\n  v: {external: true, driver: local}\n",
        'conflicting parameters "external" and "driver"',
        "volumes.v.driver",
        id="external-volume-with-driver",
    ),
    pytest.param(
        "services:\n  web: {build: {context: ., dockerfile: D, dockerfile_inline: 'FROM x'}}\n",
        "mutually exclusive",
        "services.web.build",
        id="dockerfile-twice",
    ),
    pytest.param(
        "services:\n  web: {image: a, provider: {type: model}}\n",
        "'provider' is not supported",
        "services.web.provider",
        id="provider-rejected",
    ),
    pytest.param(
        "services:\n  web: {image: a, labels: [kedge.stack=other]}\n",
        "reserved for Kedge",
        "services.web.labels",
        id="reserved-service-label",
    ),
    pytest.param(
        "services:\n  web: {image: a}\nnetworks:\n  n: {labels: {kedge.managed: 'false'}}\n",
        "reserved for Kedge",
        "networks.n.labels",
        id="reserved-network-label",
    ),
    pytest.param(
        "services:\n  web: {image: a, develop: {watch: [{path: ., action: sync}]}}\n",
        "target is required",
        "services.web.develop.watch[0]",
        id="watch-target",
    ),
]


@pytest.mark.parametrize(("text", "message", "path"), INVALID)
def test_broken_rules_are_reported_where_they_are(text: str, message: str, path: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        loader.parse(textwrap.dedent(text), name="demo")
    found = [e for e in caught.value.errors if message in e.message]
    assert found, caught.value.render()
    error: SpecError = found[0]
    assert error.location.path == path
    assert error.location.line is not None
    assert error.hint


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        pytest.param({"a": ["b"], "b": []}, None, id="chain"),
        pytest.param({"a": ["b", "c"], "b": ["c"], "c": []}, None, id="diamond"),
        pytest.param({"a": ["b"], "b": ["a"]}, ["a", "b", "a"], id="two"),
        pytest.param({"x": [], "a": ["b"], "b": ["c"], "c": ["b"]}, ["b", "c", "b"], id="tail"),
        pytest.param({"a": ["missing"]}, None, id="undefined-is-not-a-cycle"),
    ],
)
def test_find_cycle(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert validation.find_cycle(graph) == cycle


@pytest.mark.parametrize(
    ("meta", "env", "active"),
    [
        pytest.param("", {}, {"web"}, id="none-enabled"),
        pytest.param("x-kedge: {profiles: [debug]}\n", {}, {"web", "debug"}, id="x-kedge"),
        pytest.param("", {"COMPOSE_PROFILES": "tools, debug"}, {"web", "debug"}, id="env"),
        pytest.param("x-kedge: {profiles: ['*']}\n", {}, {"web", "debug", "other"}, id="all"),
    ],
)
def test_profiles_enable_services(meta: str, env: dict[str, str], active: set[str]) -> None:
    text = meta + textwrap.dedent(
        """
        services:
          web: {image: a}
          debug: {image: b, profiles: [debug]}
          other: {image: c, profiles: [other]}
        """
    )
    spec = loader.parse(text, name="demo", env=env)
    assert set(spec.active_services) == active


def test_an_enabled_profile_service_is_checked() -> None:
    text = (
        "x-kedge: {profiles: [debug]}\n"
        "services:\n  debug: {image: b, profiles: [debug], networks: [x]}\n"
    )
    with pytest.raises(SpecErrors, match="undefined network"):
        loader.parse(text, name="demo")


def test_a_duplicate_host_port_names_the_duplicate_and_the_original() -> None:
    text = textwrap.dedent(
        """\
        services:
          web:
            image: a
            ports: ['8080:80']
          api:
            image: a
            ports:
              - '9000:90'
              - target: 81
                published: 8080
        """
    )
    with pytest.raises(SpecErrors) as caught:
        loader.parse(text, source="shop.yaml", name="shop")
    [error] = caught.value.errors
    # the duplicate: where it is written
    assert error.location.render() == "shop.yaml:9:9"
    assert error.location.path == "services.api.ports[1]"
    # the original: named with its own file:line:column and path
    assert "host port 8080/tcp is published twice, also by service 'web'" in error.message
    assert "at shop.yaml:4:13 (services.web.ports[0])" in error.message


@pytest.mark.parametrize(
    ("ports", "clashes"),
    [
        pytest.param(["8080:80", "8080:80/udp"], [], id="other-protocol"),
        pytest.param(["127.0.0.1:8080:80", "127.0.0.2:8080:81"], [], id="other-ip"),
        pytest.param(["127.0.0.1:8080:80", "8080:81"], ["ports[1]"], id="wildcard-after-ip"),
        pytest.param(["8080:81", "127.0.0.1:8080:80"], ["ports[1]"], id="ip-after-wildcard"),
        pytest.param(["0:80", "0:81"], [], id="random-port-zero"),
        pytest.param(["8000-8010:80", "8005:81"], [], id="host-range-picks-one"),
        pytest.param(["80:80", "80:81", "80:82"], ["ports[1]", "ports[2]"], id="three-times"),
    ],
)
def test_host_port_clashes(ports: list[str], clashes: list[str]) -> None:
    text = f"services:\n  web:\n    image: a\n    ports: {ports!r}\n"
    errors: list[SpecError] = []
    try:
        loader.parse(text, name="demo")
    except SpecErrors as exc:
        errors = exc.errors
    assert [e.location.path.removeprefix("services.web.") for e in errors] == clashes
    assert all("also by service 'web' at <string>:4:" in e.message for e in errors)
