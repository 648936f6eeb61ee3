"""Kedge: a Kubernetes-style reconciliation controller for Docker stacks declared as files."""

__version__ = "0.1.0"
__all__ = ["__version__"]
