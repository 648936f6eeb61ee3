"""The Docker engine adapter: the one module of Kedge that imports ``docker``.

``Engine`` connects the way the docker CLI does (``DOCKER_HOST`` with ``DOCKER_TLS_VERIFY`` /
``DOCKER_CERT_PATH``, else the docker context — ``DOCKER_CONTEXT`` or ``docker context use`` —,
else the local socket; ``DOCKER_API_VERSION`` pins the API version,
otherwise it is negotiated with one call) and offers one method per Docker API call that the
reconcilers, ``observe`` and the executor need. Errors of docker-py and requests are translated
into Kedge's engine errors in exactly one place, ``_translated``, always ``from exc``.

Callers: ``reconcilers.observe`` (list by label), the network/volume/container reconcilers
(one action, one call), ``reconcilers.builds`` (image builds), ``reconcilers.health`` (the
events stream), and the composition roots that make an ``Engine.from_env()``.

The low-level ``docker.APIClient`` is used on purpose: the high-level ``containers.list()``
inspects every container it lists, which would make observing a stack cost one call per
container. Every HTTP response is counted (``api_calls``) so benches can report API calls.

Every call has a deadline of its kind (``reconcilers.deadlines``): ``_Client`` gives each
request the deadline of the call in progress on its thread, in place of docker-py's one
timeout for all (and of the none it gives pulls, builds and streams), and ``_translated``
turns a call past its deadline into ``EngineUnavailable`` naming the call and the wait.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import docker
import docker.context.config as docker_context_config
import docker.errors
import docker.utils
import requests
import urllib3.exceptions
from docker.context import ContextAPI

from kedge import errors
from kedge.reconcilers import refusals
from kedge.reconcilers.deadlines import Deadlines, stopped_answering

__all__ = ["POOL", "Deadlines", "Engine", "EventStream", "LogStream"]

Body = Mapping[str, Any]
Filters = Mapping[str, Sequence[str]]

#: the deadline of the call in progress on each thread (``_Client`` reads it)
_calling = threading.local()

_TIMEOUTS = (
    requests.exceptions.Timeout,
    urllib3.exceptions.TimeoutError,
    socket.timeout,  # TimeoutError: a stream's socket read
)


def _is_timeout(exc: BaseException | None) -> bool:
    """Whether a call failed because its deadline passed (docker-py and requests wrap it)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, _TIMEOUTS) or "timed out" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextlib.contextmanager
def _translated(
    what: str,
    deadline: float | None = None,
    *,
    refused: type[errors.EngineError] = errors.EngineRejected,
) -> Iterator[None]:
    """Turn docker-py and transport errors into Kedge's engine errors (the one boundary);
    with ``deadline``, every request of the block waits at most that long for an answer.

    ``refused`` is what a refusal other than a bad request means for this call: a pull's
    registry that does not answer or does not have the image (yet) may clear by itself.
    """
    outer = getattr(_calling, "deadline", None)
    if deadline is not None:
        _calling.deadline = deadline
    try:
        yield
    except docker.errors.NotFound as exc:
        raise errors.EngineNotFound(f"{what}: {_explain(exc)}") from exc
    except docker.errors.BuildError as exc:
        raise errors.EngineRejected(f"{what}: {exc.msg}") from exc
    except docker.errors.APIError as exc:
        raise _mapped_api_error(what, exc, refused=refused) from exc
    except (*_TIMEOUTS, requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
        if _is_timeout(exc):
            waited = deadline if deadline is not None else outer
            raise stopped_answering(what, float(waited or 0)) from exc
        if isinstance(exc, requests.exceptions.ConnectionError):
            raise errors.EngineUnavailable(
                f"{what}: the Docker daemon does not answer: {exc}"
            ) from exc
        raise errors.EngineUnavailable(f"{what}: {exc}") from exc
    finally:
        _calling.deadline = outer


def _context_kwargs(name: str | None) -> dict[str, Any]:
    """The connection of a docker CLI context: ``name``, else the current one (``docker context
    use``, in the config file ``DOCKER_CONFIG`` names); nothing for the default context."""
    name = name or docker_context_config.get_current_context_name()
    if name == "default":
        return {}
    context = ContextAPI.get_context(name)
    if context is None:
        raise errors.EngineUnavailable(
            f"connect to Docker: the docker context {name!r} does not exist"
            " (docker context ls lists them; DOCKER_CONTEXT or docker context use names one)"
        )
    found: dict[str, Any] = {"base_url": context.Host}
    if context.TLSConfig:
        found["tls"] = context.TLSConfig
    return found


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)


def _mapped_api_error(
    what: str, exc: docker.errors.APIError, *, refused: type[errors.EngineError]
) -> errors.EngineError:
    """The most specific engine error for the daemon's refusal (``reconcilers.refusals``)."""
    return refusals.refused(
        f"{what}: {_explain(exc)}", status=exc.status_code or 0, otherwise=refused
    )


def _split_reference(ref: str) -> tuple[str, str | None]:
    """``repo[:tag]`` (or ``repo@digest``) as (repository, tag or digest)."""
    if "@" in ref:
        repository, _, digest = ref.partition("@")
        return repository, digest
    head, _, last = ref.rpartition("/")
    name, _, tag = last.partition(":")
    return (f"{head}/{name}" if head else name), (tag or "latest")


class _OwnStream:
    """A streamed answer of Docker on a connection of its own; ``close()``, from any thread,
    ends it (a reader blocked on it then stops)."""

    def __init__(self, api: docker.APIClient, stream: Any, *, what: str) -> None:
        self._api = api
        self._stream = stream
        self._what = what

    def _items(self) -> Iterator[Any]:
        try:
            with _translated(self._what):
                yield from self._stream
        except errors.EngineError:
            # a stream closed by ``close()`` ends with a transport error: that is its end
            if self._stream is not None:
                raise

    def close(self) -> None:
        stream, self._stream = self._stream, None
        with contextlib.suppress(Exception):  # closing a broken socket can fail: it is gone
            stream.close()
        self._api.close()


class EventStream(_OwnStream):
    """Docker events as decoded dicts, from a connection of its own; ``close()`` ends it."""

    def __init__(self, api: docker.APIClient, stream: Any) -> None:
        super().__init__(api, stream, what="events")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._items()


class LogStream(_OwnStream):
    """A container's output in chunks, from a connection of its own; ``close()`` ends it."""

    def __iter__(self) -> Iterator[bytes]:
        return self._items()


class _Client(docker.APIClient):
    """docker-py's client, whose requests wait the deadline of the call in progress.

    docker-py gives every request one timeout, adds the stop timeout to it for a stop, and
    none at all to pulls, builds and streams; here each request waits at most the deadline
    ``_translated`` set for its call (and the client's own timeout outside of any call).
    """

    def _set_request_timeout(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        deadline = getattr(_calling, "deadline", None)
        kwargs["timeout"] = deadline if deadline is not None else self.timeout
        return kwargs


#: how long Docker waits for a container to stop when it sets no ``StopTimeout``
_DOCKER_STOP_TIMEOUT = 10

#: the connections an engine keeps to the daemon, shared by the executor's threads
POOL = 16


class Engine:
    """One Docker daemon. Thread-safe: one connection pool shared by the executor's threads."""

    def __init__(
        self, kwargs: Mapping[str, Any], *, deadlines: Deadlines | None = None, pool: int = POOL
    ) -> None:
        self._kwargs = dict(kwargs)
        self.deadlines = deadlines or Deadlines()
        self._count_lock = threading.Lock()
        self._calls = 0
        self._api = self._connect(pool=pool)
        self.version = str(self._api.api_version)
        self._kwargs["version"] = self.version  # later connections need no negotiation

    @classmethod
    def from_env(cls, *, deadlines: Deadlines | None = None, pool: int = POOL) -> Engine:
        """Connect as the docker CLI would: to ``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY`` and
        ``DOCKER_CERT_PATH``), else to the context ``DOCKER_CONTEXT`` or ``docker context use``
        names, else to the local socket; an ``ssh://`` host through the ``ssh`` command.
        ``deadlines`` default to ``Deadlines.from_env()`` (``KEDGE_DEADLINE_*``)."""
        deadlines = deadlines or Deadlines.from_env()
        with _translated("connect to Docker"):
            if os.environ.get("DOCKER_HOST"):
                kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
            else:
                kwargs = _context_kwargs(os.environ.get("DOCKER_CONTEXT"))
        if str(kwargs.get("base_url", "")).startswith("ssh://"):
            kwargs["use_ssh_client"] = True
        kwargs["version"] = os.environ.get("DOCKER_API_VERSION") or "auto"
        return cls(kwargs, deadlines=deadlines, pool=pool)

    def _connect(self, *, pool: int) -> docker.APIClient:
        read = self.deadlines.read
        with _translated("connect to Docker (the API version)", read):
            api = _Client(timeout=math.ceil(read), max_pool_size=pool, **self._kwargs)
        api.hooks["response"].append(self._count)
        if self._kwargs.get("version") == "auto":
            self._calls += 1  # the version negotiation happened before the hook
        return api

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._count_lock:
            self._calls += 1

    def supports(self, version: str) -> bool:
        """Whether the negotiated API version is at least ``version`` (e.g. "1.44")."""
        have = tuple(int(p) for p in self.version.split("."))
        return have >= tuple(int(p) for p in version.split("."))

    @property
    def api_calls(self) -> int:
        """How many Docker API requests this engine has made (streams count once)."""
        return self._calls

    def close(self) -> None:
        self._api.close()

    def ping(self) -> None:
        with _translated("ping", self.deadlines.read):
            self._api.ping()

    # -- containers -------------------------------------------------------------------------

    def list_containers(self, filters: Filters) -> list[dict[str, Any]]:
        """Summaries of every container (running or not) that matches the filters."""
        with _translated("list containers", self.deadlines.read):
            return list(self._api.containers(all=True, filters=dict(filters)))

    def inspect_container(self, ref: str) -> dict[str, Any]:
        with _translated(f"inspect container {ref}", self.deadlines.read):
            return dict(self._api.inspect_container(ref))

    def create_container(self, name: str, body: Body, *, platform: str | None = None) -> str:
        """Create a container from a full Engine API create body; returns its id."""
        with _translated(f"create container {name}", self.deadlines.write):
            return str(
                self._api.create_container_from_config(  # type: ignore[no-untyped-call]
                    dict(body), name=name, platform=platform
                )["Id"]
            )

    def start_container(self, ref: str) -> None:
        with _translated(f"start container {ref}", self.deadlines.write):
            self._api.start(ref)

    def unpause_container(self, ref: str) -> None:
        with _translated(f"unpause container {ref}", self.deadlines.write):
            self._api.unpause(ref)

    def stop_container(self, ref: str, *, timeout: int | None = None) -> None:
        """Stop a container, waiting up to ``timeout`` (else its own ``StopTimeout``, which
        one inspect reads) before Docker kills it; the call's deadline is that plus a margin."""
        if timeout is None:
            config = self.inspect_container(ref).get("Config") or {}
            found = config.get("StopTimeout")
            timeout = _DOCKER_STOP_TIMEOUT if found is None else int(found)
        deadline = max(timeout, 0) + self.deadlines.stop
        with _translated(f"stop container {ref} (stop timeout {timeout} s)", deadline):
            self._api.stop(ref, timeout=timeout)

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        with _translated(f"remove container {ref}", self.deadlines.write):
            self._api.remove_container(ref, v=volumes, force=force)

    def rename_container(self, ref: str, name: str) -> None:
        with _translated(f"rename container {ref} to {name}", self.deadlines.write):
            self._api.rename(ref, name)

    def put_archive(self, container: str, path: str, archive: bytes) -> None:
        """Extract a tar archive into a container (created or running) at ``path``."""
        with _translated(f"copy files into container {container}", self.deadlines.write):
            self._api.put_archive(container, path, archive)

    def connect_network(self, network: str, container: str, *, endpoint: Body) -> None:
        """Attach a container to a network with an Engine API ``EndpointSettings`` body."""
        with _translated(
            f"connect container {container} to network {network}", self.deadlines.write
        ):
            self._api.connect_container_to_network(
                container,
                network,
                aliases=endpoint.get("Aliases"),
                ipv4_address=(endpoint.get("IPAMConfig") or {}).get("IPv4Address"),
                ipv6_address=(endpoint.get("IPAMConfig") or {}).get("IPv6Address"),
                links=endpoint.get("Links"),
                link_local_ips=(endpoint.get("IPAMConfig") or {}).get("LinkLocalIPs"),
                driver_opt=endpoint.get("DriverOpts"),
                mac_address=endpoint.get("MacAddress"),
            )

    def disconnect_network(self, network: str, container: str, *, force: bool = False) -> None:
        with _translated(
            f"disconnect container {container} from network {network}", self.deadlines.write
        ):
            self._api.disconnect_container_from_network(container, network, force=force)

    # -- networks and volumes ---------------------------------------------------------------

    def list_networks(self, filters: Filters) -> list[dict[str, Any]]:
        with _translated("list networks", self.deadlines.read):
            return list(self._api.networks(filters=dict(filters)))

    def create_network(self, name: str, body: Body) -> str:
        """Create a network from an Engine API ``NetworkCreateRequest`` body; returns its id."""
        with _translated(f"create network {name}", self.deadlines.write):
            created = self._api.create_network(
                name,
                driver=body.get("Driver"),
                options=body.get("Options"),
                ipam=body.get("IPAM"),
                internal=bool(body.get("Internal", False)),
                labels=body.get("Labels"),
                enable_ipv6=bool(body.get("EnableIPv6", False)),
                attachable=body.get("Attachable"),
            )
            return str(created["Id"])

    def inspect_network(self, ref: str) -> dict[str, Any]:
        with _translated(f"inspect network {ref}", self.deadlines.read):
            return dict(self._api.inspect_network(ref))

    def remove_network(self, ref: str) -> None:
        with _translated(f"remove network {ref}", self.deadlines.write):
            self._api.remove_network(ref)

    def list_volumes(self, filters: Filters) -> list[dict[str, Any]]:
        with _translated("list volumes", self.deadlines.read):
            return list(self._api.volumes(filters=dict(filters)).get("Volumes") or [])

    def create_volume(self, name: str, body: Body) -> None:
        with _translated(f"create volume {name}", self.deadlines.write):
            self._api.create_volume(
                name,
                driver=body.get("Driver"),
                driver_opts=body.get("DriverOpts"),
                labels=body.get("Labels"),
            )

    def remove_volume(self, name: str) -> None:
        with _translated(f"remove volume {name}", self.deadlines.write):
            self._api.remove_volume(name)

    # -- images -----------------------------------------------------------------------------

    def list_images(self) -> list[dict[str, Any]]:
        """Summaries of every local image (one call), to resolve tags to image ids."""
        with _translated("list images", self.deadlines.read):
            return list(self._api.images())

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """The image's inspect body, or None when no local image has that reference."""
        try:
            with _translated(f"inspect image {ref}", self.deadlines.read):
                return dict(self._api.inspect_image(ref))  # type: ignore[no-untyped-call]
        except errors.EngineNotFound:
            return None

    def build_image(
        self,
        context: str,
        *,
        tag: str,
        dockerfile: str | None = None,
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        labels: Mapping[str, str] | None = None,
        network_mode: str | None = None,
        extra_hosts: Mapping[str, str] | None = None,
        shm_size: int | None = None,
        no_cache: bool = False,
        pull: bool = False,
        cache_from: Sequence[str] = (),
        isolation: str | None = None,
    ) -> str:
        """Build an image from a context folder (classic builder); returns the image id."""
        with _translated(f"build image {tag} from {context}", self.deadlines.image):
            stream = self._api.build(
                path=context,
                tag=tag,
                dockerfile=dockerfile,
                buildargs=dict(buildargs or {}),
                target=target,
                labels=dict(labels or {}),
                network_mode=network_mode,
                extra_hosts=dict(extra_hosts or {}) or None,
                shmsize=shm_size,
                nocache=no_cache,
                pull=pull,
                cache_from=list(cache_from) or None,
                isolation=isolation,
                rm=True,
                forcerm=True,
                decode=True,
            )
            tail: list[str] = []
            for chunk in stream:
                if "error" in chunk:
                    detail = "".join(tail[-10:]) + str(chunk["error"])
                    raise errors.EngineRejected(f"build image {tag} from {context}: {detail}")
                tail.append(str(chunk.get("stream", "")))
            return str(self._api.inspect_image(tag)["Id"])  # type: ignore[no-untyped-call]

    def pull_image(self, ref: str) -> None:
        """Pull an image from its registry. An image the registry does not have (yet), or a
        registry that does not answer, is ``EngineNotFound``: pushing it later clears it."""
        repository, tag = _split_reference(ref)
        with _translated(f"pull image {ref}", self.deadlines.image, refused=errors.EngineNotFound):
            for chunk in self._api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise errors.EngineNotFound(f"pull image {ref}: {chunk['error']}")

    def tag_image(self, image: str, ref: str) -> None:
        repository, tag = _split_reference(ref)
        with _translated(f"tag image {image} as {ref}", self.deadlines.write):
            self._api.tag(image, repository, tag=tag)

    # -- events -----------------------------------------------------------------------------

    def events(self, filters: Filters, *, since: float | None = None) -> EventStream:
        """Open Docker's events stream on a connection of its own.

        ``since`` (a Unix time, taken down to the second) replays the daemon's buffered events
        from then on, which closes the gap between the daemon answering and it subscribing.
        """
        api = self._connect(pool=1)
        try:
            with _translated("subscribe to events", self.deadlines.read):
                stream = api.events(
                    since=None if since is None else int(since), filters=dict(filters), decode=True
                )
                # the daemon answered: from now on the stream may be quiet for as long as
                # nothing happens, so its reads wait without a deadline
                api._disable_socket_timeout(  # type: ignore[attr-defined]
                    api._get_raw_response_socket(stream._response)  # type: ignore[attr-defined]
                )
        except errors.EngineError:
            api.close()
            raise
        return EventStream(api, stream)

    # -- logs (added for the API's `kedge logs`) --------------------------------------------

    def container_logs(
        self, ref: str, *, tail: int | None = None, follow: bool = False
    ) -> LogStream:
        """A container's output (stdout and stderr, with timestamps) in chunks, on a
        connection of its own; ``follow`` keeps it open until the container stops or the
        stream is closed (``LogStream.close``, from any thread)."""
        api = self._connect(pool=1)
        try:
            # a followed stream waits for new output without end: its opening has the
            # deadline, and docker-py lifts it from the stream's socket once it answers
            with _translated(f"logs of container {ref}", self.deadlines.read):
                found = api.logs(
                    ref,
                    stream=True,
                    follow=follow,
                    timestamps=True,
                    tail="all" if tail is None else tail,
                )
        except BaseException:
            api.close()
            raise
        return LogStream(api, found, what=f"logs of container {ref}")
