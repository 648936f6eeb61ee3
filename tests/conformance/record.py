"""Record Docker Compose's verdict on every conformance case into ``MANIFEST.tsv``.

A case is ``cases/<name>.yaml``, or ``cases/<name>/compose.yaml`` for a case that needs files
beside it (``.env``, ``env_file``, ``extends``/``include`` targets, secret files). Compose's
verdict is ``docker-compose -p scratch -f FILE config -q`` run in the file's folder with an
empty environment (``env -i PATH=/usr/bin:/bin``): exit 0 is ``valid``, a Go panic ``crash``,
any other exit ``invalid``, as the shared corpus's verdicts were made (``shared/corpus/README.md``).

The manifest's columns are ``file``, ``compose`` (the recorded verdict), ``kedge`` (what Kedge
must say), ``reason`` (why Kedge deliberately says otherwise; empty when it agrees) and
``stderr`` (Compose's message on one line). ``kedge`` and ``reason`` are kept from the
existing manifest for cases that have a reason; every other case gets ``kedge = compose``.

Usage (the binary is not needed in CI: the recorded verdicts are committed)::

    python tests/conformance/record.py --compose /path/to/docker-compose
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
MANIFEST = HERE / "MANIFEST.tsv"
COLUMNS = ("file", "compose", "kedge", "reason", "stderr")
_TIMESTAMP = re.compile(r'time="[^"]*" ')


def case_files() -> list[Path]:
    """Every case file, in name order."""
    flat = [p for p in CASES.glob("*.yaml") if p.is_file()]
    nested = [p for p in CASES.glob("*/compose.yaml") if p.is_file()]
    return sorted(flat + nested)


def read_manifest(path: Path = MANIFEST) -> list[dict[str, str]]:
    """The manifest's rows (an empty list when it does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def compose_verdict(compose: str, case: Path) -> tuple[str, str]:
    """Compose's verdict on ``case`` and what it printed, on one line."""
    argv = ["env", "-i", "PATH=/usr/bin:/bin", compose, "-p", "scratch"]
    argv += ["-f", case.name, "config", "-q"]
    try:
        done = subprocess.run(
            argv, cwd=case.parent, capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    stderr = _TIMESTAMP.sub("", done.stderr.strip()).replace(str(case.parent), "<dir>")
    stderr = stderr.replace("\t", "\\t").replace("\n", "\\n")
    if done.returncode == 0:
        return "valid", stderr
    return ("crash" if "panic:" in done.stderr else "invalid"), stderr


def record(compose: str) -> list[dict[str, str]]:
    """Run compose on every case; the manifest rows, deliberate differences kept."""
    kept = {row["file"]: row for row in read_manifest() if row.get("reason")}
    files = case_files()
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda case: compose_verdict(compose, case), files))
    rows = []
    for case, (verdict, stderr) in zip(files, verdicts, strict=True):
        name = case.relative_to(CASES).as_posix()
        old = kept.get(name)
        rows.append(
            {
                "file": name,
                "compose": verdict,
                "kedge": old["kedge"] if old else verdict,
                "reason": old["reason"] if old else "",
                "stderr": stderr,
            }
        )
    return rows


def write_manifest(rows: list[dict[str, str]], path: Path = MANIFEST) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh,
            fieldnames=COLUMNS,
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
            quotechar=None,
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--compose", default="docker-compose", help="the docker-compose binary")
    args = parser.parse_args()
    rows = record(args.compose)
    write_manifest(rows)
    valid = sum(row["compose"] == "valid" for row in rows)
    print(f"{len(rows)} cases: {valid} valid, {len(rows) - valid} invalid by compose")


if __name__ == "__main__":
    main()
