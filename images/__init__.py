"""Local images made from recipes, each built once and kept under its recipe's digest.

No registry needs to answer: a recipe makes a root filesystem from what the host has (Debian's
``busybox-static`` binary, or Debian packages through ``debootstrap``) and ``docker import``
turns it into an image tagged ``<repository>:<first 12 hex digits of the recipe's digest>``,
plus the stable alias tags that examples, tests and charts name. A changed recipe (or a changed
busybox binary) has another digest, so it is built again; an unchanged one is never rebuilt.

- ``recipes``: the recipes and their digests (no Docker);
- ``builder``: ``ensure(client, recipe)``, the one place that builds and tags them;
- ``examples``: points ``examples/`` at the local images when their published ones cannot be
  had (``examples/.env``);
- ``python -m images``: what ``make images`` (and so ``make run``) runs.

Callers: ``tests/conftest.py`` (the ``test_image`` fixture), the image test of Kedge itself,
``bench/``, ``make images``. Kedge itself never imports this package: it is a tool of the
repository, like ``bench/``, and may use the docker SDK directly.
"""
