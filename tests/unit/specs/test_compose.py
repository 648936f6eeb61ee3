"""The compose model: short and long syntaxes meet in one canonical form; wrong values fail."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kedge.errors import SpecError, SpecErrors
from kedge.specs import loader
from kedge.specs.stack import StackSpec


def parse(text: str, **kwargs: Any) -> StackSpec:
    kwargs.setdefault("name", "demo")
    return loader.parse(textwrap.dedent(text), **kwargs)


def service(body: str, **kwargs: Any) -> Any:
    """Parse one service ``web`` whose keys are ``body`` (indented as under the service)."""
    indented = textwrap.indent(textwrap.dedent(body), "    ")
    text = f"services:\n  web:\n    image: busybox\n{indented}"
    return parse(text, **kwargs).services["web"]


def errors_of(text: str, **kwargs: Any) -> list[SpecError]:
    with pytest.raises(SpecError) as caught:
        parse(text, **kwargs)
    error = caught.value
    return error.errors if isinstance(error, SpecErrors) else [error]


PORTS = [
    pytest.param("ports: ['8080:80']", [{"target": 80, "published": "8080"}], id="host:container"),
    pytest.param("ports: [80]", [{"target": 80}], id="number"),
    pytest.param("ports: ['80']", [{"target": 80}], id="container-only-string"),
    pytest.param(
        "ports: ['127.0.0.1:8080:80/udp']",
        [{"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp"}],
        id="ip-and-protocol",
    ),
    pytest.param(
        "ports: ['8080-8081:80-81']",
        [{"target": 80, "published": "8080"}, {"target": 81, "published": "8081"}],
        id="ranges",
    ),
    pytest.param(
        "ports: ['9000-9010:80']",
        [{"target": 80, "published": "9000-9010"}],
        id="host-range-one-container-port",
    ),
    pytest.param(
        "ports: ['[::1]:8080:80']",
        [{"target": 80, "published": "8080", "host_ip": "::1"}],
        id="ipv6",
    ),
    pytest.param(
        "ports: [{target: 80, published: 8080, protocol: TCP, x-note: a}]",
        [{"target": 80, "published": "8080", "x-note": "a"}],
        id="long-form",
    ),
    pytest.param(
        "ports: [{target: '80', published: '8080', mode: host, app_protocol: http}]",
        [{"target": 80, "published": "8080", "mode": "host", "app_protocol": "http"}],
        id="long-form-strings",
    ),
]


@pytest.mark.parametrize(("body", "expected"), PORTS)
def test_ports_become_long_form(body: str, expected: list[dict[str, Any]]) -> None:
    web = service(body)
    assert [p.model_dump(mode="json", exclude_defaults=True) for p in web.ports] == expected


BAD_PORTS = [
    pytest.param("ports: ['abc:80']", "invalid host port", id="letters"),
    pytest.param("ports: ['8080:70000']", "invalid container port", id="out-of-range"),
    pytest.param("ports: ['8080-8082:80-81']", "differ in size", id="range-sizes"),
    pytest.param("ports: ['80/icmp']", "unknown protocol", id="protocol"),
    pytest.param("ports: ['300.1.1.1:80:80']", "not an IP address", id="bad-ip"),
    pytest.param("ports: ['8080:']", "no container port", id="empty-container"),
    pytest.param("ports: ['81-80:81-80']", "go upwards", id="downward-range"),
    pytest.param("ports: [{published: 80}]", "'target' is required", id="long-without-target"),
    pytest.param("ports: [{target: 80, bogus: 1}]", "unknown key 'bogus'", id="long-unknown-key"),
    pytest.param("ports: [true]", "a port must be", id="boolean"),
]


@pytest.mark.parametrize(("body", "message"), BAD_PORTS)
def test_malformed_ports_are_rejected(body: str, message: str) -> None:
    text = "services:\n  web:\n    image: busybox\n    " + body + "\n"
    errors = errors_of(text)
    assert any(message in e.render() for e in errors), [e.render() for e in errors]
    assert errors[0].location.line is not None
    assert errors[0].location.path.startswith("services.web.ports")


VOLUMES = [
    pytest.param(
        "volumes: ['data:/data:ro']",
        {"type": "volume", "source": "data", "target": "/data", "read_only": True},
        id="named-ro",
    ),
    pytest.param(
        "volumes: ['./src:/app']",
        {"type": "bind", "source": "/proj/src", "target": "/app", "bind": {}},
        id="relative-bind",
    ),
    pytest.param(
        "volumes: ['/var/log:/logs:rw,z']",
        {"type": "bind", "source": "/var/log", "target": "/logs", "bind": {"selinux": "z"}},
        id="absolute-bind-options",
    ),
    pytest.param("volumes: ['/cache']", {"type": "volume", "target": "/cache"}, id="anonymous"),
    pytest.param(
        "volumes: [{type: bind, source: ./src, target: /app/}]",
        {"type": "bind", "source": "/proj/src", "target": "/app", "bind": {}},
        id="long-bind",
    ),
    pytest.param(
        "volumes: [{type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: 1777}}]",
        {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 67108864, "mode": 1777}},
        id="tmpfs",
    ),
    pytest.param(
        "volumes: [{type: volume, source: data, target: /d, volume: {nocopy: true}}]",
        {"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": True}},
        id="long-volume-nocopy",
    ),
]


@pytest.mark.parametrize(("body", "expected"), VOLUMES)
def test_volumes_become_long_form(body: str, expected: dict[str, Any]) -> None:
    text = "services:\n  web:\n    image: busybox\n    " + body + "\nvolumes:\n  data: {}\n"
    web = parse(text, project_dir=Path("/proj")).services["web"]
    assert [v.model_dump(mode="json", exclude_defaults=True) for v in web.volumes] == [expected]


BAD_VOLUMES = [
    pytest.param("volumes: ['data::/b']", "empty section", id="empty-section"),
    pytest.param("volumes: ['data:/b:ro:x']", "too many colons", id="too-many-colons"),
    pytest.param("volumes: [{type: nfs, target: /x}]", "'nfs' (str) is not allowed", id="bad-type"),
    pytest.param("volumes: [{type: bind, target: /x}]", "needs a source", id="bind-no-source"),
    pytest.param("volumes: [{source: data, target: /x}]", "'type' is required", id="no-type"),
]


@pytest.mark.parametrize(("body", "message"), BAD_VOLUMES)
def test_malformed_volumes_are_rejected(body: str, message: str) -> None:
    errors = errors_of("services:\n  web:\n    image: busybox\n    " + body + "\n")
    assert any(message in e.render() for e in errors), [e.render() for e in errors]


def test_environment_list_and_map_are_the_same() -> None:
    as_list = service("environment: ['A=1', 'B=x=y', 'C']")
    as_map = service("environment: {A: 1, B: 'x=y', C: null}")
    assert as_list.environment == as_map.environment == {"A": "1", "B": "x=y", "C": None}


def test_a_bare_environment_key_takes_its_value_from_the_environment() -> None:
    web = service("environment: [TOKEN, UNSET]", env={"TOKEN": "s3cret"})
    assert web.environment == {"TOKEN": "s3cret", "UNSET": None}


def test_depends_on_list_means_service_started() -> None:
    spec = parse(
        """
        services:
          web: {image: a, depends_on: [db]}
          db: {image: b}
        """
    )
    dependency = spec.services["web"].depends_on["db"]
    assert (dependency.condition, dependency.required, dependency.restart) == (
        "service_started",
        True,
        False,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("test: curl -f x", ["CMD-SHELL", "curl -f x"], id="string"),
        pytest.param("test: [CMD, curl, -f, x]", ["CMD", "curl", "-f", "x"], id="cmd"),
        pytest.param("test: [CMD-SHELL, 'curl x']", ["CMD-SHELL", "curl x"], id="cmd-shell"),
        pytest.param("test: [NONE]", ["NONE"], id="none"),
        pytest.param("disable: true", ["NONE"], id="disable"),
    ],
)
def test_healthcheck_test_forms(body: str, expected: list[str]) -> None:
    web = service(f"healthcheck:\n  {body}\n  interval: 1m30s\n  retries: '3'")
    assert web.healthcheck.test == expected
    assert web.healthcheck.interval == timedelta(seconds=90)
    assert web.healthcheck.retries == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("healthcheck: {test: [RUN, x]}", "must start with", id="first-word"),
        pytest.param("healthcheck: {interval: 30}", "must be a string", id="int-duration"),
        pytest.param("healthcheck: {interval: 5 minutes}", "invalid duration", id="words"),
        pytest.param("healthcheck: {timeout: 10}", "must be a string", id="timeout-int"),
        pytest.param("stop_grace_period: 1y", "invalid duration", id="years"),
        pytest.param("healthcheck: {retries: many}", "not an integer", id="retries"),
    ],
)
def test_bad_durations_and_healthchecks(body: str, message: str) -> None:
    errors = errors_of("services:\n  web:\n    image: busybox\n    " + body + "\n")
    assert any(message in e.render() for e in errors), [e.render() for e in errors]


def test_command_string_is_split_like_a_shell() -> None:
    web = service("command: sh -c 'echo hello world'\nentrypoint: ['/bin/tini', '--']")
    assert web.command == ["sh", "-c", "echo hello world"]
    assert web.entrypoint == ["/bin/tini", "--"]


def test_sizes_cpus_and_booleans_are_cast_as_compose_does() -> None:
    web = service(
        """
        mem_limit: 1024m
        shm_size: 1gb
        cpus: '1.5'
        read_only: 'true'
        privileged: yes
        init: true
        stop_grace_period: 10s
        deploy:
          replicas: '2'
          resources: {limits: {memory: 1g, cpus: 1.5}, reservations: {memory: 256M}}
          restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3}
        """
    )
    assert web.mem_limit == 1024**3
    assert web.shm_size == 1024**3
    assert web.cpus == 1.5
    assert (web.read_only, web.privileged, web.init) == (True, True, True)
    assert web.stop_grace_period == timedelta(seconds=10)
    assert web.replicas == 2
    assert web.deploy.resources.limits.memory == 1024**3
    assert web.deploy.restart_policy.max_attempts == 3


def test_build_short_and_long_forms() -> None:
    short = service("build: ./app", project_dir=Path("/proj"))
    long = service("build: {context: ./app, args: [A=1], target: prod}", project_dir=Path("/p"))
    assert short.build.context == "/proj/app"
    assert long.build.context == "/p/app"
    assert long.build.args == {"A": "1"}
    assert long.build.target == "prod"
    remote = service("build: https://github.com/x/y.git#main")
    assert remote.build.context == "https://github.com/x/y.git#main"


def test_scale_is_folded_into_deploy_replicas() -> None:
    web = service("scale: 3")
    assert web.replicas == 3
    assert web.scale is None
    assert (
        "differ"
        in errors_of("services:\n  web: {image: a, scale: 2, deploy: {replicas: 3}}\n")[0].message
    )


def test_a_service_without_networks_joins_default() -> None:
    spec = parse(
        """
        services:
          web: {image: a}
          db: {image: b, networks: [back]}
          tool: {image: c, network_mode: host}
        networks: {back: }
        """
    )
    assert list(spec.services["web"].networks) == ["default"]
    assert list(spec.services["db"].networks) == ["back"]
    assert spec.services["tool"].networks == {}
    assert set(spec.networks) == {"back", "default"}
    assert spec.network_name("default") == "demo_default"


def test_no_default_network_when_nobody_uses_it() -> None:
    spec = parse("services:\n  web: {image: a, network_mode: none}\n")
    assert spec.networks == {}


def test_extensions_are_kept_wherever_compose_allows_them() -> None:
    spec = parse(
        """
        x-top: 1
        services:
          web:
            image: a
            x-svc: {b: 2}
            healthcheck: {test: [CMD, x], x-h: 3}
            deploy: {x-d: 4, resources: {x-r: 5}}
            depends_on: {db: {condition: service_healthy, x-dep: 6}}
          db: {image: b, healthcheck: {test: [CMD, y]}}
        networks: {n: {x-net: 7}}
        volumes: {v: {x-vol: 8}}
        """
    )
    web = spec.services["web"]
    assert spec.extensions == {"x-top": 1}
    assert web.extensions == {"x-svc": {"b": 2}}
    assert web.healthcheck.extensions == {"x-h": 3}
    assert web.deploy.extensions == {"x-d": 4}
    assert web.depends_on["db"].extensions == {"x-dep": 6}
    assert spec.networks["n"].extensions == {"x-net": 7}
    assert spec.volumes["v"].extensions == {"x-vol": 8}
    dumped = loader.canonical(spec)
    assert dumped["x-top"] == 1
    assert dumped["services"]["web"]["x-svc"] == {"b": 2}


def test_x_kedge_options() -> None:
    spec = parse(
        """
        name: shop
        x-kedge:
          description: web shop
          labels: {team: web}
          version: 4
          on_failure: rollback
          drift: warn
        services:
          web:
            image: a
            x-kedge: {update: start-first, health_timeout: 90s}
        """
    )
    assert spec.name == "shop"
    assert spec.meta.version == 4
    assert (spec.meta.on_failure, spec.meta.drift) == ("rollback", "warn")
    assert spec.meta.labels == {"team": "web"}
    web = spec.services["web"]
    assert web.x_kedge.update == "start-first"
    assert web.x_kedge.health_timeout == timedelta(seconds=90)
    assert service("").x_kedge.health_timeout == timedelta(seconds=120)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(
            "services:\n  web: {imgae: a}\n",
            "unknown key 'imgae'",
            "did you mean 'image'?",
            id="svc",
        ),
        pytest.param(
            "servics:\n  web: {image: a}\n", "unknown top-level key", "'services'", id="top"
        ),
        pytest.param(
            "x-kedge: {drfit: heal}\nservices: {web: {image: a}}\n",
            "unknown key 'drfit'",
            "did you mean 'drift'?",
            id="x-kedge",
        ),
        pytest.param(
            "services:\n  web: {image: a, x-kedge: {x-mine: 1}}\n",
            "unknown key 'x-mine'",
            "",
            id="x-kedge-is-ours",
        ),
        pytest.param(
            "services:\n  web: {image: a, deploy: {resources: {limit: {}}}}\n",
            "unknown key 'limit'",
            "did you mean 'limits'?",
            id="nested",
        ),
        pytest.param(
            "x-kedge: {on_failure: retry}\nservices: {web: {image: a}}\n",
            "'retry' (str) is not allowed",
            "",
            id="on-failure-value",
        ),
        pytest.param("services:\n  web: {image: 1}\n", "expected a string", "", id="image-int"),
        pytest.param(
            "services:\n  web: {image: a, user: 1000}\n", "expected a string", "", id="user"
        ),
        pytest.param(
            "services:\n  web: {image: a, command: [1]}\n", "expected a string", "", id="cmd"
        ),
        pytest.param(
            "services:\n  web: {image: a, labels: {a: {b: c}}}\n", "values must", "", id="lab"
        ),
        pytest.param(
            "services:\n  web: {image: a, privileged: maybe}\n", "not a boolean", "", id="b"
        ),
        pytest.param("services:\n  web:\n", "expected a mapping", "", id="null-service"),
        pytest.param("services:\n  'web app': {image: a}\n", "invalid name", "", id="svc-name"),
        pytest.param(
            "services:\n  web: {image: a, depends_on: {db: {}}}\n  db: {image: b}\n",
            "'condition' is required",
            "",
            id="depends-on-condition",
        ),
        pytest.param(
            "services:\n  web: {image: a, extends: {service: b, bogus: 1}}\n  b: {image: b}\n",
            "unknown key 'bogus'",
            "",
            id="extends-key",
        ),
        pytest.param("version: 3\nservices: {web: {image: a}}\n", "must be a string", "", id="ver"),
        pytest.param(
            "secrets: {s: }\nservices: {web: {image: a}}\n", "expected a mapping", "", id="s"
        ),
        pytest.param("{}\n", "empty compose file", "", id="empty"),
    ],
)
def test_schema_errors_say_where_and_how(text: str, message: str, hint: str) -> None:
    errors = errors_of(text)
    found = [e for e in errors if message in e.message]
    assert found, [e.render() for e in errors]
    assert found[0].location.line is not None
    assert hint in found[0].hint


def test_every_error_of_a_document_is_reported_in_file_order() -> None:
    errors = errors_of(
        """
        services:
          web:
            image: a
            restart: always
            imgae: b
          db:
            image: b
            cpus: lots
        """
    )
    assert [e.location.path for e in errors] == ["services.web.imgae", "services.db.cpus"]
    assert [e.location.line for e in errors] == [6, 9]


def test_obsolete_version_is_a_warning() -> None:
    warnings: list[str] = []
    parse("version: '3.8'\nservices: {web: {image: a}}\n", warnings=warnings)
    assert any("obsolete" in w for w in warnings)


def test_top_level_objects() -> None:
    spec = parse(
        """
        services:
          web: {image: a, secrets: [token], configs: [{source: conf, target: /etc/c, mode: 0440}]}
        networks:
          front:
            driver: bridge
            ipam: {driver: default, config: [{subnet: 172.28.0.0/16, gateway: 172.28.0.1}]}
            driver_opts: {com.docker.network.bridge.name: br0, mtu: 1400}
          outside: {external: true, name: corp}
          legacy: {external: {name: old}}
        volumes:
          data:
          shared: {external: true}
        secrets:
          token: {file: ./token.txt}
          env: {environment: TOKEN}
        configs:
          conf: {content: "a=1"}
        """,
        project_dir=Path("/proj"),
    )
    assert spec.networks["front"].ipam.config[0].subnet == "172.28.0.0/16"
    assert spec.networks["front"].driver_opts == {
        "com.docker.network.bridge.name": "br0",
        "mtu": "1400",
    }
    assert spec.network_name("outside") == "corp"
    assert spec.networks["legacy"].external
    assert spec.network_name("legacy") == "old"
    assert spec.volume_name("data") == "demo_data"
    assert spec.volume_name("shared") == "shared"
    assert spec.secrets["token"].file == "/proj/token.txt"
    assert spec.services["web"].configs[0].mode == 0o440


def test_links_and_namespaces_imply_dependencies() -> None:
    spec = parse(
        """
        services:
          web: {image: a, links: ['db:database'], volumes_from: [files, 'container:x']}
          sidecar: {image: b, network_mode: 'service:web'}
          db: {image: c}
          files: {image: d}
        """
    )
    assert set(spec.services["web"].depends_on) == {"db", "files"}
    assert set(spec.services["sidecar"].depends_on) == {"web"}
    assert spec.services["sidecar"].networks == {}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("environment:", id="environment"),
        pytest.param("user:", id="user"),
        pytest.param("ports:", id="ports"),
        pytest.param("healthcheck: {interval: }", id="nested"),
    ],
)
def test_null_is_an_error_where_compose_allows_none(body: str) -> None:
    errors = errors_of("services:\n  web:\n    image: a\n    build: .\n    " + body + "\n")
    assert any("null" in e.message for e in errors), [e.render() for e in errors]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("command:", id="command"),
        pytest.param("entrypoint:", id="entrypoint"),
        pytest.param("deploy:", id="deploy"),
        pytest.param("networks: {default: }", id="network-entry"),
        pytest.param("environment: {A: }", id="environment-value"),
        pytest.param("x-anything:", id="extension"),
    ],
)
def test_null_where_compose_allows_it(body: str) -> None:
    service(body)
