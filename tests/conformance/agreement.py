"""Print how often Kedge's verdict agrees with Docker Compose's on the conformance cases.

Usage: ``python -m tests.conformance.agreement [-v]`` from the checkout root; ``-v`` lists each
disagreement with both messages. A deliberate difference (a ``reason`` in ``MANIFEST.tsv``)
counts as a disagreement with compose here; the test asserts Kedge's own verdict for it.
"""

from __future__ import annotations

import sys

from tests.conformance.record import CASES, read_manifest
from tests.conformance.test_conformance import kedge_verdict


def main() -> None:
    verbose = "-v" in sys.argv[1:]
    rows = read_manifest()
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
    print(f"kedge agrees with compose on {agree}/{len(rows)} cases")


if __name__ == "__main__":
    main()
