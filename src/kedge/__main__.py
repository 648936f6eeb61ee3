"""``python -m kedge``: the composition root runs the CLI."""

from kedge.cli.main import app

if __name__ == "__main__":
    app()
