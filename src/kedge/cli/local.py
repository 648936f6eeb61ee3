"""The local verbs: ``kedge up``, ``down``, ``plan`` and ``rollback``, with no server.

For people coming from compose and for CI jobs. Each pass is recorded as a command in the
local store (``--db``, default ``./kedge.db``) and carried out in this process
(``runtime.open_local``), so ``kedge`` keeps the same history as a server would:

- ``kedge up [-f FILE]... [--wait]``: record the spec as a version (or reuse the equal one)
  and apply it; ``--wait`` also waits until every container it started is ready
  (``planning.health``: healthy, running without a healthcheck, or a one-shot that exited 0);
- ``kedge down [NAME | -p NAME | -f FILE...] [--volumes]``: delete the stack (its volumes
  only if asked);
- ``kedge plan [-f FILE]...``: print the plan; exit 0 when there is nothing to do, 1 when
  there is, 2 on error (as ``kubectl diff`` and ``nomad job plan`` do);
- ``kedge rollback NAME --to N [--wait]``: converge the stack to its version N (with
  ``--server`` or ``KEDGE_SERVER`` set, the server's rollback, ``cli.remote``, does it
  instead); ``--wait`` waits as ``up --wait`` does.

``up``, ``down`` and ``plan`` read a project as compose does (``specs.projects``: ``-f``
repeated or discovered, ``-p``, ``COMPOSE_PROJECT_NAME``, ``--env-file``, ``--profile``; the
shared options are defined in ``cli.options``). ``up``, ``down`` and ``rollback`` exit 0
when the pass is DONE, 1 when it failed, 2 when it could not start (bad spec, no daemon,
busy store). Progress goes to stdout: styled by rich on a terminal, plain lines otherwise.
Registered in ``kedge.cli.main``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kedge import errors, runtime
from kedge.cli import follow
from kedge.cli import options as flags
from kedge.cli.options import DbOption
from kedge.cli.policy import PolicyOption, local_policy
from kedge.planning.actions import PlanRefused
from kedge.reconcilers import observe, preview
from kedge.reconcilers.engine import Engine
from kedge.specs import digests, inputs, loader, projects
from kedge.specs.commands import Command, CommandStatus, CommandType
from kedge.specs.stack import StackSpec
from kedge.store import SqliteStore, converged

__all__ = ["down", "plan", "rollback", "up"]

_STYLES = {"info": "", "warning": "yellow", "error": "bold red"}


def up(
    *,
    file: flags.FilesOption = None,
    project_name: flags.ProjectNameOption = None,
    env_file: flags.EnvFileOption = None,
    profile: flags.ProfileOption = None,
    wait: Annotated[bool, typer.Option(help="Wait until what was started is ready.")] = False,
    db: DbOption = flags.DEFAULT_DB,
    policy_file: PolicyOption = None,
) -> None:
    """Apply a spec file: record it as a version and converge the stack to it."""
    with _failures():
        asked = flags.project_options(file, project_name, env_file, profile)
        project = _project(asked)
        # before loading: a later edit only misses; the fast path (cli.quick) answers files
        # alone (given or discovered), so only then is the pass remembered for it
        inputs_seen = (
            inputs.project_fingerprint(asked.files, cwd=Path.cwd()) if asked.files_only else None
        )
        warnings: list[str] = []
        spec = _load(project, warnings=warnings, policy_file=policy_file)
        with runtime.open_local(db) as local:
            source = ",".join(str(path) for path in project.files)
            recorded = local.record(spec, source=source, wait=wait)
            number = recorded.version.number
            news = "new" if recorded.created else "unchanged"
            _say("info", f"stack {spec.name}: version {number} ({news})")
            queued = recorded.command
            assert queued is not None  # asked for with apply
            command = _finish(lambda: local.run(queued, echo=_say))
            if inputs_seen is not None:
                seen = converged.Converged(
                    stack=spec.name,
                    inputs=inputs_seen,
                    version=number,
                    observed="",
                    probe=observe.probe_of(spec),
                    command_id=command.id,
                    warnings=warnings,
                )
                _remember(db, local.engine, spec, seen)


def down(
    name: Annotated[
        str | None, typer.Argument(help="The stack (default: the project's, as for up).")
    ] = None,
    *,
    file: flags.FilesOption = None,
    project_name: flags.ProjectNameOption = None,
    env_file: flags.EnvFileOption = None,
    profile: flags.ProfileOption = None,
    volumes: flags.VolumesOption = False,
    db: DbOption = flags.DEFAULT_DB,
) -> None:
    """Delete a stack: its containers, dependents first, and networks; volumes if asked."""
    with _failures():
        asked = flags.project_options(file, project_name, env_file, profile)
        if name is not None and (asked.files or asked.name):
            raise errors.SpecError(
                "give either a stack NAME or the project (-f, -p)", hint="kedge down NAME"
            )
        stack = name or _stack_name(asked)
        with runtime.open_local(db) as local:
            options = {"remove_volumes": volumes}
            _finish(lambda: local.run_new(stack, CommandType.DELETE, options=options, echo=_say))


def rollback(
    name: Annotated[str, typer.Argument(help="The stack.")],
    *,
    to: Annotated[int | None, typer.Option("--to", help="The version to converge to.")] = None,
    db: DbOption = Path("kedge.db"),
    server: Annotated[
        str | None,
        typer.Option("--server", envvar="KEDGE_SERVER", help="Ask this Kedge server instead."),
    ] = None,
    wait: follow.WaitOption = False,
    timeout: follow.TimeoutOption = 300.0,
) -> None:
    """Converge a stack to one of its earlier versions (only what differs is touched).

    With ``--server`` (or ``KEDGE_SERVER``) the server does it; otherwise this process does,
    on the local store, and ``--to`` is required.
    """
    if server:
        from kedge.cli import remote  # the HTTP client only when a server is asked

        remote.rollback(name, to=to, wait=wait, timeout=timeout, server=server)
        return
    with _failures():
        if to is None:
            raise errors.SpecError(
                "a local rollback needs --to N", hint=f"kedge rollback {name} --to 1"
            )
        with runtime.open_local(db) as local:
            local.store.versions.get(name, to)
            options = {"wait": True} if wait else {}
            _finish(
                lambda: local.run_new(
                    name, CommandType.ROLLBACK, version=to, options=options, echo=_say
                )
            )


def plan(
    *,
    file: flags.FilesOption = None,
    project_name: flags.ProjectNameOption = None,
    env_file: flags.EnvFileOption = None,
    profile: flags.ProfileOption = None,
    db: DbOption = flags.DEFAULT_DB,
    policy_file: PolicyOption = None,
) -> None:
    """Print the plan for a spec file; exit 0 nothing to do, 1 something to do, 2 error."""
    with _failures():
        asked = flags.project_options(file, project_name, env_file, profile)
        spec = _load(_project(asked), policy_file=policy_file)
        _say("info", f"stack {spec.name}: {_known_as(db, spec)}")
        engine = Engine.from_env()
        try:
            planned = preview.plan_stack(engine, spec.name, spec, options=preview.APPLYING)
        except PlanRefused as exc:
            typer.echo(exc.plan.render())
            raise
        finally:
            engine.close()
        text = planned.plan.render()
        typer.echo(text if text else f"stack {spec.name}: nothing to do")
        raise typer.Exit(0 if planned.plan.is_empty else 1)


def _remember(db: Path, engine: Engine, spec: StackSpec, seen: converged.Converged) -> None:
    """Observe the stack again after a DONE pass; when its plan is empty, keep ``seen`` with
    what was observed for the next ``kedge up`` of the same inputs (``cli.quick``,
    ``store.converged``)."""
    try:
        planned = preview.plan_stack(engine, spec.name, spec, options=preview.APPLYING)
    except errors.KedgeError:
        return  # e.g. a container that exited at once: the next up takes the full path
    if planned.plan.is_empty:
        seen.observed = planned.observed.fingerprint
        converged.remember(db, seen)


def _project(asked: projects.ProjectOptions) -> projects.Project:
    return projects.resolve(asked, cwd=Path.cwd(), environ=os.environ)


def _load(
    project: projects.Project,
    *,
    warnings: list[str] | None = None,
    policy_file: Path | None = None,
) -> StackSpec:
    """The spec of ``project``; the host-safety policy warns, or refuses with ``--policy``."""
    warnings = [] if warnings is None else warnings
    warnings.extend(project.warnings)
    policy, enforce = local_policy(policy_file)
    spec = loader.load_project(project, warnings=warnings, policy=policy, enforce=enforce)
    for warning in warnings:
        _say("warning", warning)
    return spec


def _stack_name(asked: projects.ProjectOptions) -> str:
    """The stack a project names: ``-p`` or ``COMPOSE_PROJECT_NAME`` without reading its
    files (as compose's ``down`` does), else the name its files give."""
    if asked.name:
        return projects.resolve_name(asked.name, given="-p")
    if os.environ.get("COMPOSE_PROJECT_NAME"):
        return projects.resolve_name(
            os.environ["COMPOSE_PROJECT_NAME"], given="COMPOSE_PROJECT_NAME"
        )
    project = _project(asked)
    return project.name or _load(project).name


def _known_as(db: Path, spec: StackSpec) -> str:
    """Which version of the local store ``spec`` is, if the store exists (plan writes none)."""
    if not db.is_file():
        return "not recorded (no local store)"
    store = SqliteStore.open(db)
    try:
        found = store.versions.find(spec.name, digests.digest(spec))
    finally:
        store.close()
    return f"version {found.number}" if found else "a new version"


def _finish(run: Callable[[], Command]) -> Command:
    """Run the command now and say how it ended; a failed pass exits 1."""
    try:
        command = run()
    except errors.KedgeError as exc:
        if not isinstance(exc, errors.ConflictError):
            _say("error", f"failed: {exc}")
            raise typer.Exit(1) from exc
        raise
    if command.status is not CommandStatus.DONE:
        _say("error", f"command #{command.id} {command.status}: {command.error}")
        raise typer.Exit(1)
    _say("info", f"command #{command.id} done: {command.outcome}")
    return command


@contextmanager
def _failures() -> Iterator[None]:
    """Errors that keep a pass from starting exit 2 with their message."""
    try:
        yield
    except errors.KedgeError as exc:
        text = exc.render() if isinstance(exc, errors.SpecError) else str(exc)
        _say("error", text)
        raise typer.Exit(2) from exc


def _say(level: str, message: str) -> None:
    if sys.stdout.isatty():
        from rich.console import Console  # rich only on a terminal: it is slow to import

        style = _STYLES.get(level, "")
        Console(highlight=False).print(message, style=style or None, markup=False)
    else:
        typer.echo(f"{level}: {message}" if level != "info" else message)
