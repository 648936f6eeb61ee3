"""Print how often Kedge's verdict agrees with Docker Compose's on the conformance cases.

Usage: ``python -m tests.conformance.agreement [-v]`` from the checkout root; ``-v`` lists each
disagreement with both messages. A deliberate difference (a ``reason`` in ``MANIFEST.tsv``)
counts as a disagreement with compose here; the test asserts Kedge's own verdict for it. Cases
where compose crashes (a Go panic, no verdict) are left out of the figure.
"""

from __future__ import annotations

import sys

from tests.conformance.record import CASES, read_manifest
from tests.conformance.test_conformance import kedge_verdict


def main() -> None:
    verbose = "-v" in sys.argv[1:]
    rows = [row for row in read_manifest() if row["compose"] != "crash"]
    crashes = len(read_manifest()) - len(rows)
    agree = 0
    for row in rows:
        got = kedge_verdict(CASES / row["file"])
        verdict = "valid" if got == "valid" else "invalid"
        if verdict == row["compose"]:
            agree += 1
        elif verbose:
            note = f" (deliberate: {row['reason']})" if row["reason"] else ""
            print(f"{row['file']}: compose {row['compose']}, kedge {verdict}{note}")
            print(f"    compose: {row['stderr'][:200]}")
            print(f"    kedge:   {got[:200]}")
    print(
        f"kedge agrees with compose on {agree}/{len(rows)} cases"
        f" (and {crashes} cases where compose crashes are left out)"
    )


if __name__ == "__main__":
    main()
