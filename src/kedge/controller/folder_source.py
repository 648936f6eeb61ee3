"""The folder source: spec files in a watched folder become versions and commands.

A full scan at start, then one per batch of changes that watchfiles reports (debounced), and
again when a file that was still being written has settled. Per scan:

- each complete spec file is parsed, reading other files only inside the folder
  (``specs.reads``) and under the operator's host-safety policy (``specs.policy``, a
  refusal is a broken file); a valid one is recorded as a version (the store
  deduplicates by digest) and, when that version is not already the desired one, an ``APPLY``
  is enqueued; with a git work tree the commit is recorded with the version;
- a broken file leaves its stack on its last good version; the error (with file:line) is
  recorded where a user looks: the stack's status, a FAILED command, a log line and
  ``kedge_spec_errors_total``; a broken file still counts as its stack's file for pruning;
- two files that name one stack: the first (by file name) wins, the other is an error;
- a stack whose file is gone is deleted (``DELETE``) unless ``decide_prune`` refuses.

Callers: ``controller.Controller`` (threads), tests (``sync`` directly).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import watchfiles

from kedge import errors
from kedge.controller.folder import SpecFile, decide_prune, git_commit, scan_folder
from kedge.observability.metrics import Metrics
from kedge.specs import digests, envfiles, loader
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.specs.policy import Policy
from kedge.specs.reads import Reads
from kedge.specs.stack import StackSpec, is_stack_name, normalize_stack_name
from kedge.specs.versions import StackVersion
from kedge.store.protocol import Store
from kedge.store.records import StackStatus

__all__ = ["FOLDER_AUTHOR", "FolderSource", "SyncReport"]

log = structlog.get_logger(__name__)

#: ``created_by`` of the versions and commands the folder source makes
FOLDER_AUTHOR = "folder"


@dataclass
class SyncReport:
    """What one scan did; ``unsettled`` files are looked at again after the settle time."""

    applied: dict[str, int] = field(default_factory=dict)  # stack -> version enqueued
    errors: dict[str, str] = field(default_factory=dict)  # stack -> rendered error
    deleted: set[str] = field(default_factory=set)
    prune_refused: str = ""
    unsettled: int = 0
    settles_in: float = 0.0  # seconds until the first unsettled file has settled


def _is_desired(spec: StackSpec, status: StackStatus, same: StackVersion | None) -> bool:
    """Whether ``same``, the version equal to ``spec``, is the stack's desired one already."""
    if same is None or status.desired_version != same.number:
        return False
    return spec.meta.version in (None, same.number)


class FolderSource:
    """Keeps the store's versions and queue in step with one folder of spec files."""

    def __init__(
        self,
        folder: Path,
        *,
        store: Store,
        metrics: Metrics,
        wake: Callable[[], None],
        prune: bool = True,
        settle: float = 0.1,
        debounce_ms: int = 50,
        policy: Policy | None = None,
    ) -> None:
        self.folder = folder.absolute()
        self._policy = policy or Policy()
        self._store, self._metrics, self._wake = store, metrics, wake
        self._prune, self._settle, self._debounce_ms = prune, settle, debounce_ms
        self._recorded: dict[Path, tuple[int, int]] = {}  # file -> (mtime_ns, size) recorded
        self._reported: dict[Path, tuple[int, int]] = {}  # file -> (mtime_ns, size) rejected
        self._stack_of: dict[Path, str] = {}  # file -> the stack it last named
        self._dirty = threading.Event()
        self._last_refusal = ""

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Scan at start, then on every change, until ``stop``."""
        watcher = threading.Thread(
            target=self._watch, args=(stop,), name="folder-watch", daemon=True
        )
        watcher.start()
        wait: float | None = 0.0
        while not stop.is_set():
            self._dirty.wait(wait)
            self._dirty.clear()
            if stop.is_set():
                break
            report = self.sync_safely()
            wait = report.settles_in if report.unsettled else None
        self._dirty.set()

    def mark_dirty(self) -> None:
        """Make the loop scan again (a resync, or a test)."""
        self._dirty.set()

    def _watch(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.folder.is_dir():
                stop.wait(1.0)  # report it via the scan; watch once it exists
                self._dirty.set()
                continue
            try:
                for _changes in watchfiles.watch(
                    self.folder,
                    stop_event=stop,
                    debounce=self._debounce_ms,
                    step=10,
                    recursive=False,
                    watch_filter=None,
                    raise_interrupt=False,
                ):
                    self._dirty.set()
            except (FileNotFoundError, RuntimeError) as exc:  # the folder went away
                log.warning("folder watch ended", folder=str(self.folder), reason=str(exc))
                stop.wait(1.0)
            self._dirty.set()

    def sync_safely(self) -> SyncReport:
        try:
            return self.sync()
        except errors.StoreError as exc:
            log.warning("folder scan failed", reason=str(exc))
            return SyncReport(unsettled=1, settles_in=1.0)  # look again soon

    # -- one scan ---------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Scan the folder once and turn what changed into versions and commands."""
        scan = scan_folder(self.folder, now_ns=time.time_ns(), settle_ns=int(self._settle * 1e9))
        report = SyncReport(unsettled=len(scan.unsettled), settles_in=scan.settles_in_ns / 1e9)
        present: set[str] = {
            self._stack_of.get(p, normalize_stack_name(p.stem)) for p in scan.unsettled
        }
        owner: dict[str, Path] = {}
        commit: list[str | None] = []  # looked up once, only when a version is recorded
        for spec_file in scan.files:
            stack = self._sync_file(spec_file, owner=owner, commit=commit, report=report)
            present.add(stack)
        files = {f.path for f in scan.files}
        for book in (self._recorded, self._reported):
            for gone in set(book) - files:
                book.pop(gone, None)
        self._prune_vanished(frozenset(present), folder_exists=scan.exists, report=report)
        return report

    def _sync_file(
        self,
        spec_file: SpecFile,
        *,
        owner: dict[str, Path],
        commit: list[str | None],
        report: SyncReport,
    ) -> str:
        path = spec_file.path
        fallback = self._stack_of.get(path, normalize_stack_name(path.stem))
        try:
            spec = self._parse(spec_file)
        except errors.SpecError as exc:
            return self._spec_error(path, fallback, exc, spec_file=spec_file, report=report)
        stack = spec.name
        if stack in owner:
            twice = errors.SpecError(
                f"stack {stack!r} is already declared by {owner[stack].name}",
                location=errors.Location(file=str(path)),
                hint="keep one spec file per stack, or give this one another name",
            )
            # not recorded on a stack: the stack is the other file's, and this file has none
            return self._spec_error(
                path, fallback, twice, spec_file=spec_file, report=report, record=False
            )
        owner[stack] = path
        self._stack_of[path] = stack
        if self._recorded.get(path) == (spec_file.mtime_ns, spec_file.size):
            return stack
        if not commit:
            commit.append(git_commit(self.folder))
        try:
            self._record(spec, path=path, commit=commit[0], report=report)
        except (errors.ConflictError, errors.SpecError) as exc:
            return self._spec_error(path, stack, exc, spec_file=spec_file, report=report)
        self._recorded[path] = (spec_file.mtime_ns, spec_file.size)
        self._reported.pop(path, None)
        return stack

    def _parse(self, spec_file: SpecFile) -> StackSpec:
        """As ``loader.load_file`` does, from the content the scan read."""
        reads = Reads.inside(self.folder)
        dotenv = self.folder / ".env"
        where = errors.Location(str(dotenv))
        values = (
            envfiles.read_env_file(dotenv, lookup=os.environ, reads=reads)
            if reads.is_file(dotenv, what="the .env", where=where)
            else {}
        )
        return loader.parse(
            spec_file.text,
            source=str(spec_file.path),
            project_dir=self.folder,
            reads=reads,
            env={**values, **os.environ},
            name=normalize_stack_name(spec_file.path.stem),
            policy=self._policy,
        )

    def _record(
        self, spec: StackSpec, *, path: Path, commit: str | None, report: SyncReport
    ) -> None:
        status, digest = self._status(spec.name), digests.digest(spec)
        same = self._store.versions.find(spec.name, digest)
        # already the desired version (with a declared number that fits it, else ``record``
        # says which rule it breaks): nothing to apply
        if status is not None and _is_desired(spec, status, same):
            if status.last_error and status.last_error.startswith(str(path)):
                self._store.stacks.set_status(spec.name, last_error=None)  # the file is fixed
            return
        recorded = self._store.versions.record(
            spec.name,
            loader.canonical(spec),
            digest=digest,
            declared=spec.meta.version,
            source=str(path),
            created_by=FOLDER_AUTHOR,
            commit=commit,
            apply=CommandReason.FILE,
            desired=True,
        )
        command = recorded.command
        assert command is not None  # asked for with apply
        if status is not None and status.last_error:
            self._store.stacks.set_status(spec.name, last_error=None)  # a new desired state
        number = recorded.version.number
        report.applied[spec.name] = number
        log.info(
            "spec recorded",
            stack=spec.name,
            version=number,
            new=recorded.created,
            file=str(path),
            commit=commit,
            command_id=command.id,
        )
        self._wake()

    def _spec_error(
        self,
        path: Path,
        stack: str,
        exc: errors.KedgeError,
        *,
        spec_file: SpecFile,
        report: SyncReport,
        record: bool = True,
    ) -> str:
        text = exc.render() if isinstance(exc, errors.SpecError) else f"{path}: {exc}"
        report.errors[stack] = text
        self._recorded.pop(path, None)
        if self._reported.get(path) == (spec_file.mtime_ns, spec_file.size):
            return stack  # reported when the file changed last
        self._reported[path] = (spec_file.mtime_ns, spec_file.size)
        self._metrics.spec_errors.labels(stack=stack).inc()
        log.warning("spec rejected", stack=stack, file=str(path), error=text)
        # a file whose name makes no valid stack name (over the length limit, or nothing left
        # after normalising) gets no row the API could never read: the log and metric say it
        if record and is_stack_name(stack):
            self._store.stacks.set_status(stack, last_error=text)
            self._record_failed_command(stack, text)
        return stack

    def _record_failed_command(self, stack: str, text: str) -> None:
        """A FAILED APPLY without a version carries the error into the command history."""
        self._store.commands.enqueue(
            stack,
            CommandType.APPLY,
            reason=CommandReason.FILE,
            created_by=FOLDER_AUTHOR,
            options={"spec_error": text},
        )
        self._wake()

    def _status(self, stack: str) -> StackStatus | None:
        try:
            return self._store.stacks.get(stack)
        except errors.NotFoundError:
            return None

    # -- prune ------------------------------------------------------------------------------

    def known_stacks(self) -> frozenset[str]:
        """Stacks that came from this folder and are not deleted."""
        known: set[str] = set()
        cursor: str | None = None
        while True:
            page = self._store.stacks.list(limit=200, cursor=cursor)
            for status in page.items:
                if status.desired_version is None:
                    continue
                latest = self._store.versions.get(status.stack, status.desired_version)
                if Path(latest.source).parent == self.folder:
                    known.add(status.stack)
            cursor = page.next_cursor
            if cursor is None:
                return frozenset(known)

    def _prune_vanished(
        self, present: frozenset[str], *, folder_exists: bool, report: SyncReport
    ) -> None:
        decision = decide_prune(
            self.known_stacks(), present, folder_exists=folder_exists, enabled=self._prune
        )
        if decision.refused:
            report.prune_refused = decision.refused
            if decision.refused != self._last_refusal:
                log.warning("prune refused", folder=str(self.folder), reason=decision.refused)
            self._last_refusal = decision.refused
            return
        self._last_refusal = ""
        for stack in sorted(decision.delete):
            pending = self._store.commands.list(stack=stack, status=CommandStatus.PENDING)
            for older in pending.items:  # a DELETE supersedes whatever was still to come
                self._store.commands.cancel(older.id, by=f"prune of {stack}")
            command = self._store.commands.enqueue(
                stack,
                CommandType.DELETE,
                reason=CommandReason.PRUNE,
                created_by=FOLDER_AUTHOR,
                desired=True,  # nothing is desired any more, in the DELETE's transaction
            )
            report.deleted.add(stack)
            log.info("stack pruned", stack=stack, command_id=command.id)
            self._wake()
