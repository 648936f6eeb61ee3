"""``python -m images [NAME ...] [--examples] [--rebuild]``: what ``make images`` runs.

Builds the named recipes' images (by default those the examples use) unless their digest's
tag is present, prints one line each, and with ``--examples`` points the examples at them
when no registry answers (``images.examples``). Exit 1 when a recipe cannot be built here
(the line says what to install), 2 when no Docker daemon answers.
"""

from __future__ import annotations

import argparse
import sys

import docker
import docker.errors

from images import builder, examples, recipes

#: the recipes ``make images`` builds: those the examples (and the tests) run on
DEFAULT = ("busybox",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(recipes.RECIPES))
    parser.add_argument("--examples", action="store_true", help="point examples/ at them")
    parser.add_argument("--rebuild", action="store_true", help="build even when present")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(recipes.RECIPES))
    if unknown:
        parser.error(f"no recipe {', '.join(unknown)}; the recipes: {', '.join(recipes.RECIPES)}")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        print(f"images: no Docker daemon answers: {exc}", file=sys.stderr)
        return 2
    failed = False
    try:
        for name in args.names or DEFAULT:
            recipe = recipes.RECIPES[name]
            try:
                built = builder.ensure(client, recipe, rebuild=args.rebuild)
            except builder.RecipeError as exc:
                print(f"images: {exc}", file=sys.stderr)
                failed = True
                continue
            done = "present" if built.seconds is None else f"built in {built.seconds:.1f} s"
            print(f"images: {name}: {built.tag} ({', '.join(recipe.aliases)}), {done}")
        if args.examples:
            print(f"images: {examples.prepare(client)}")
    finally:
        client.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
