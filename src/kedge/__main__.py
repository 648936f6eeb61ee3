"""``python -m kedge``: runs the CLI (the system is wired in ``kedge.runtime``)."""

from kedge.cli.main import app

if __name__ == "__main__":
    app()
