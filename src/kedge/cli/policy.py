"""The host-safety policy on the command line: ``kedge policy check FILE...``, and the
options that the other verbs take to read the operator's policy file.

``kedge serve`` and ``kedge controller`` enforce a policy (``restricted`` when no
``--policy`` is given); ``--spec-root`` and ``--allow-variable`` add to what the file says.
The compose-like local verbs (``validate``, ``plan``, ``up``) warn under ``restricted`` by
default, since their user already holds the Docker socket, and enforce with ``--policy``.
``kedge policy check`` prints each spec's verdict offline: exit 0 when every spec is allowed,
1 when one is refused, 2 when a file cannot be read. The verdicts are ``specs.policy``'s.
Registered in ``kedge.cli.main``; ``server_policy`` and ``local_policy`` are used by the
``serve``, ``controller``, ``validate`` and ``local`` verbs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kedge.errors import SpecError
from kedge.specs import loader
from kedge.specs import policy as host_policy
from kedge.specs.policy import Policy

__all__ = [
    "AllowVariableOption",
    "PolicyOption",
    "SpecRootOption",
    "app",
    "local_policy",
    "server_policy",
]

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="The operator's host-safety policy file (default: the built-in restricted).",
    ),
]
SpecRootOption = Annotated[
    Path | None,
    typer.Option(
        "--spec-root", help="Posted specs may read files under this folder (none otherwise)."
    ),
]
AllowVariableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-variable",
        help="A server variable (name or glob) posted specs may interpolate; repeatable.",
    ),
]

app = typer.Typer(help="Check specs against the host-safety policy.", no_args_is_help=True)


def server_policy(
    path: Path | None, *, spec_root: Path | None = None, variables: list[str] | None = None
) -> Policy:
    """The policy a server enforces: the file's (or ``restricted``), plus the flags."""
    try:
        policy = host_policy.load_policy(path) if path is not None else Policy()
    except SpecError as exc:
        typer.echo(f"error: the policy is invalid:\n{exc.render()}", err=True)
        raise typer.Exit(2) from exc
    update: dict[str, object] = {"variables": [*policy.variables, *(variables or [])]}
    if spec_root is not None:
        update["spec_root"] = str(spec_root.resolve())
    return policy.model_copy(update=update)


def local_policy(path: Path | None) -> tuple[Policy, bool]:
    """The policy of a local verb and whether it is enforced (only when a file is given)."""
    return server_policy(path), path is not None


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Spec files to judge.")],
    policy_file: PolicyOption = None,
) -> None:
    """Print each spec's verdict under the policy; exit 1 when one is refused."""
    policy = server_policy(policy_file)
    worst = 0
    for path in files:
        try:
            spec = loader.load_file(path)
        except SpecError as exc:
            typer.echo(f"{path}: cannot be judged, the spec is invalid:\n{exc.render()}")
            worst = 2
            continue
        findings = host_policy.check(spec, policy)
        refused = [f for f in findings if not f.allowed]
        for finding in findings:
            verdict = "allowed" if finding.allowed else "refused"
            typer.echo(f"{path}: {finding.key}: {finding.message}: {verdict} ({finding.rule})")
            if not finding.allowed:
                typer.echo(f"  hint: {finding.hint(spec.name, source=policy.source)}")
        state = "refused" if refused else "allowed"
        typer.echo(f"{path}: stack {spec.name} {state} under {policy.profile}")
        worst = max(worst, 1 if refused else 0)
    raise typer.Exit(worst)
