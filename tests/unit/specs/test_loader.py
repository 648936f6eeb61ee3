"""The loader: files, .env, env_file, include, extends, names, and the canonical round trip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kedge.errors import SpecError, SpecErrors
from kedge.specs import digests, loader


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_load_file_reads_dotenv_and_the_process_environment_wins(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=1.0\nPORT=8080\n")
    path = write(
        tmp_path,
        "shop.yaml",
        """
        services:
          web:
            image: "web:${TAG}"
            ports: ["${PORT}:80"]
            environment: [HOME_DIR]
        """,
    )
    spec = loader.load_file(path, env={"PORT": "9090", "HOME_DIR": "/home/x"})
    web = spec.services["web"]
    assert spec.name == "shop"
    assert web.image == "web:1.0"
    assert web.ports[0].published == "9090"
    assert web.environment == {"HOME_DIR": "/home/x"}


@pytest.mark.parametrize(
    ("stem", "declared", "expected"),
    [
        pytest.param("shop", None, "shop", id="stem"),
        pytest.param("My Shop", None, "myshop", id="stem-normalised"),
        pytest.param("shop", "store", "store", id="declared-wins"),
        pytest.param("shop", "My_Store", "my_store", id="declared-normalised"),
        pytest.param("shop", "${NAME:-fromenv}", "fromenv", id="interpolated"),
    ],
)
def test_stack_name(tmp_path: Path, stem: str, declared: str | None, expected: str) -> None:
    head = f"name: '{declared}'\n" if declared else ""
    path = write(tmp_path, f"{stem}.yaml", head + "services: {web: {image: a}}\n")
    assert loader.load_file(path, env={}).name == expected


def test_parse_without_a_name_says_so() -> None:
    with pytest.raises(SpecError, match="no name"):
        loader.parse("services: {web: {image: a}}\n")


def test_env_file_is_merged_and_environment_wins(tmp_path: Path) -> None:
    write(tmp_path, "common.env", "A=from-file\nB=from-file\n# comment\n")
    write(tmp_path, "labels.txt", "team=web\n")
    path = write(
        tmp_path,
        "app.yaml",
        """
        services:
          web:
            image: a
            env_file: [common.env, {path: optional.env, required: false}]
            environment: {B: from-spec}
            label_file: labels.txt
        """,
    )
    web = loader.load_file(path, env={}).services["web"]
    assert web.environment == {"A": "from-file", "B": "from-spec"}
    assert web.labels == {"team": "web"}
    assert web.env_file[0].path == str(tmp_path / "common.env")


def test_a_missing_required_env_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "services:\n  web:\n    image: a\n    env_file: nope.env\n")
    with pytest.raises(SpecErrors) as caught:
        loader.load_file(path, env={})
    error = caught.value.errors[0]
    assert "nope.env not found" in error.message
    assert (error.location.line, error.location.path) == (4, "services.web.env_file[0]")
    assert "required: false" in error.hint


def test_interpolation_errors_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n")
    with pytest.raises(SpecError) as caught:
        loader.load_file(path, env={})
    assert "set IMAGE" in caught.value.render()
    assert ":3:" in caught.value.render()


def test_extends_in_the_same_file_and_another(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base/common.yaml",
        """
        services:
          app:
            image: app:1
            environment: [LEVEL=info, MODE=base]
            volumes: ["./data:/data"]
            ports: ["8000"]
        """,
    )
    path = write(
        tmp_path,
        "app.yaml",
        """
        x-shared: &shared
          restart: always
        services:
          web:
            extends: {file: base/common.yaml, service: app}
            environment: {MODE: web}
            command: serve
          worker:
            <<: *shared
            extends: web
            command: [work, --fast]
            ports: ["8001:8000"]
        """,
    )
    spec = loader.load_file(path, env={})
    web, worker = spec.services["web"], spec.services["worker"]
    assert web.image == "app:1"
    assert web.environment == {"LEVEL": "info", "MODE": "web"}
    assert web.volumes[0].source == str(tmp_path / "base" / "data")
    assert web.command == ["serve"]
    assert worker.command == ["work", "--fast"]
    assert worker.restart == "always"
    assert [(p.published, p.target) for p in worker.ports] == [(None, 8000), ("8001", 8000)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "services:\n  a: {extends: b}\n  b: {extends: a}\n", "circular extends", id="cycle"
        ),
        pytest.param("services:\n  a: {extends: ghost}\n", "undefined service 'ghost'", id="ghost"),
        pytest.param(
            "services:\n  a: {extends: {service: x, file: missing.yaml}}\n",
            "cannot read",
            id="missing-file",
        ),
    ],
)
def test_bad_extends(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "app.yaml", text)
    with pytest.raises(SpecError, match=message):
        loader.load_file(path, env={})


def test_include_brings_in_another_files_resources(tmp_path: Path) -> None:
    write(tmp_path, "db/.env", "DB_TAG=16\n")
    write(
        tmp_path,
        "db/compose.yaml",
        """
        services:
          db:
            image: "postgres:${DB_TAG}"
            volumes: ["./init:/docker-entrypoint-initdb.d", "pgdata:/var/lib/postgresql/data"]
        volumes: {pgdata: }
        """,
    )
    path = write(
        tmp_path,
        "app.yaml",
        """
        include: [db/compose.yaml]
        services:
          web: {image: a, depends_on: [db]}
        """,
    )
    spec = loader.load_file(path, env={})
    assert set(spec.services) == {"web", "db"}
    assert spec.services["db"].image == "postgres:16"
    assert spec.services["db"].volumes[0].source == str(tmp_path / "db" / "init")
    assert "pgdata" in spec.volumes


@pytest.mark.parametrize(
    ("main", "included", "message"),
    [
        pytest.param(
            "include: [other.yaml]\nservices:\n  db: {image: a}\n",
            "services:\n  db: {image: b}\n",
            "conflicts",
            id="conflict",
        ),
        pytest.param(
            "include: [other.yaml]\nservices:\n  web: {image: a}\n",
            "include: [app.yaml]\nservices:\n  db: {image: b}\n",
            "loop",
            id="loop",
        ),
        pytest.param(
            "include: [{path: other.yaml, bogus: 1}]\nservices:\n  web: {image: a}\n",
            "services:\n  db: {image: b}\n",
            "unknown key 'bogus'",
            id="bad-entry",
        ),
    ],
)
def test_bad_include(tmp_path: Path, main: str, included: str, message: str) -> None:
    write(tmp_path, "other.yaml", included)
    path = write(tmp_path, "app.yaml", main)
    with pytest.raises(SpecError, match=message):
        loader.load_file(path, env={})


def test_anchors_merge_keys_and_long_syntax_everywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.yaml",
        """
        x-logging: &logging
          driver: json-file
          options: {max-size: 10m, max-file: 3}
        x-base: &base
          restart: unless-stopped
          logging: *logging
        services:
          web:
            <<: *base
            image: nginx
            ports: [{target: 80, published: "8080", host_ip: 127.0.0.1, protocol: tcp}]
            volumes: [{type: bind, source: ./site, target: /usr/share/nginx/html, read_only: true}]
            depends_on: {api: {condition: service_healthy, restart: true}}
            networks: {front: {aliases: [www], ipv4_address: 172.30.0.10}}
            healthcheck: {test: [CMD, curl, -f, localhost], interval: 10s, start_period: 5s}
            deploy: {resources: {limits: {cpus: "0.5", memory: 128M}}}
            secrets: [{source: cert, target: /run/secrets/cert, mode: 0400}]
            ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
          api:
            <<: *base
            build: {context: ./api, dockerfile: Dockerfile.prod, args: {VERSION: "2"}}
            healthcheck: {test: "wget -q -O- localhost", retries: 5}
            networks: [front]
        networks:
          front:
            ipam: {config: [{subnet: 172.30.0.0/24}]}
        secrets:
          cert: {file: ./cert.pem}
        """,
    )
    spec = loader.load_file(path, env={})
    web = spec.services["web"]
    assert web.restart == "unless-stopped"
    assert web.logging.options == {"max-size": "10m", "max-file": "3"}
    assert web.volumes[0].source == str(tmp_path / "site")
    assert web.ulimits["nproc"].soft == web.ulimits["nproc"].hard == 512
    assert web.networks["front"].ipv4_address == "172.30.0.10"
    assert spec.services["api"].build.context == str(tmp_path / "api")
    again = loader.from_canonical(loader.canonical(spec))
    assert again == spec
    assert digests.digest(again) == digests.digest(spec)


def test_unset_variables_are_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "services:\n  web: {image: 'a${SUFFIX}'}\n")
    warnings: list[str] = []
    spec = loader.load_file(path, env={}, warnings=warnings)
    assert spec.services["web"].image == "a"
    assert any("SUFFIX" in w for w in warnings)


def test_without_interpolation_dollars_stay(tmp_path: Path) -> None:
    spec = loader.parse(
        "services:\n  web: {image: a, command: 'echo $$HOME'}\n", name="x", interpolate=False
    )
    assert spec.services["web"].command == ["echo", "$$HOME"]


def test_a_file_with_every_compose_key_loads_and_round_trips(tmp_path: Path) -> None:
    source = Path(__file__).parent / "testdata" / "every-key.yaml"
    path = tmp_path / "every-key.yaml"
    path.write_text(source.read_text())
    spec = loader.load_file(path, env={})
    web, db = spec.services["web"], spec.services["db"]
    assert web.entrypoint == ["/code/entrypoint.sh", "-p", "3000"]
    assert web.extra_hosts == {
        "somehost": ["162.242.195.82"],
        "otherhost": ["50.31.209.229"],
        "myhostv6": ["::1"],
    }
    assert web.environment == {"TZ": "UTC", "A": "1"}
    assert set(web.depends_on) == {"db"}  # from volumes_from
    assert db.build.dockerfile == "webapp.Dockerfile"
    assert db.volumes[1].bind.propagation == "rprivate"
    assert spec.networks["front"].ipam.config[0].aux_addresses == {"host1": "172.16.238.5"}
    again = loader.from_canonical(loader.canonical(spec))
    assert again == spec
    assert digests.digest(again) == digests.digest(spec)


def test_env_file_raw_format_takes_values_literally(tmp_path: Path) -> None:
    write(tmp_path, "raw.env", '# comment\nA="quoted" $HOME\nB=x=y\n')
    path = write(
        tmp_path,
        "app.yaml",
        "services:\n  web: {image: a, env_file: [{path: raw.env, format: raw}]}\n",
    )
    web = loader.load_file(path, env={}).services["web"]
    assert web.environment == {"A": '"quoted" $HOME', "B": "x=y"}


def test_include_with_overrides_project_directory_and_env_file(tmp_path: Path) -> None:
    write(
        tmp_path, "lib/base.yaml", "services:\n  cache: {image: 'redis:${TAG}', ports: ['6379']}\n"
    )
    write(tmp_path, "lib/override.yaml", "services:\n  cache: {environment: [MODE=x]}\n")
    write(tmp_path, "lib.env", "TAG=7\n")
    path = write(
        tmp_path,
        "app.yaml",
        """
        include:
          - path: [lib/base.yaml, lib/override.yaml]
            env_file: lib.env
            project_directory: lib
        services:
          web: {image: a}
        networks:
          default: {}
        """,
    )
    spec = loader.load_file(path, env={})
    cache = spec.services["cache"]
    assert cache.image == "redis:7"
    assert cache.environment == {"MODE": "x"}


def test_an_included_resource_defined_the_same_on_both_sides_is_no_conflict(
    tmp_path: Path,
) -> None:
    write(tmp_path, "other.yaml", "services:\n  db: {image: b}\nvolumes:\n  data: {}\n")
    path = write(
        tmp_path,
        "app.yaml",
        "include: [other.yaml]\nservices:\n  web: {image: a}\nvolumes:\n  data:\n",
    )
    assert set(loader.load_file(path, env={}).volumes) == {"data"}
    path.write_text(
        "include: [other.yaml]\nservices:\n  web: {image: a}\nvolumes:\n  data: {driver: x}\n"
    )
    with pytest.raises(SpecError, match=r"volumes\.data conflicts with imported resource"):
        loader.load_file(path, env={})


def test_an_included_file_does_not_redefine_the_default_network(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", "services:\n  db: {image: b}\n")
    path = write(
        tmp_path,
        "app.yaml",
        "include: [other.yaml]\nservices:\n  web: {image: a}\nnetworks:\n  default: {name: corp}\n",
    )
    spec = loader.load_file(path, env={})
    assert spec.network_name("default") == "corp"
    assert list(spec.services["db"].networks) == ["default"]


def test_extends_reads_only_the_service_it_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lib/base.yaml",
        """
        services:
          root: {image: 'root:1', volumes: ['./etc:/etc/app']}
          app: {extends: root, environment: [A=1]}
          broken: {imgae: nope}
        """,
    )
    write(
        tmp_path, "mid.yaml", "services:\n  mid: {extends: {file: lib/base.yaml, service: app}}\n"
    )
    path = write(
        tmp_path, "app.yaml", "services:\n  web: {extends: {file: mid.yaml, service: mid}}\n"
    )
    web = loader.load_file(path, env={}).services["web"]
    assert web.image == "root:1"
    assert web.environment == {"A": "1"}
    assert web.volumes[0].source == str(tmp_path / "lib" / "etc")


def test_extends_across_files_in_a_loop_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "services:\n  b: {extends: {file: app.yaml, service: a}}\n")
    path = write(tmp_path, "app.yaml", "services:\n  a: {extends: {file: b.yaml, service: b}}\n")
    with pytest.raises(SpecError, match="loop"):
        loader.load_file(path, env={})


def test_a_missing_label_file_names_label_file_where_it_is_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.yaml",
        "services:\n  web:\n    image: a\n    label_file: [ok.labels, nope.labels]\n",
    )
    write(tmp_path, "ok.labels", "team=web\n")
    with pytest.raises(SpecErrors) as caught:
        loader.load_file(path, env={})
    [error] = caught.value.errors
    assert error.message == f"label_file {str(tmp_path / 'nope.labels')!r} not found"
    assert "env file" not in error.render()
    assert error.location.render() == f"{path}:4:29"
    assert error.location.path == "services.web.label_file[1]"
    assert "remove it from label_file" in error.hint


def test_an_error_inside_a_label_file_is_located_in_it(tmp_path: Path) -> None:
    path = write(
        tmp_path, "app.yaml", "services:\n  web:\n    image: a\n    label_file: x.labels\n"
    )
    labels = write(tmp_path, "x.labels", "team=web\nbad name=1\n")
    with pytest.raises(SpecErrors) as caught:
        loader.load_file(path, env={})
    [error] = caught.value.errors
    assert error.message.startswith("in label_file: ")
    assert error.location.render() == f"{labels}:2:1"
