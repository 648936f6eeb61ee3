"""kedge.observability: structlog set-up and Prometheus metrics on an injected registry.

Importable from every layer but the pure ones (DESIGN.md, *Layers*).
"""

from kedge.observability.logs import bind_command, configure_logging
from kedge.observability.metrics import Metrics, render_metrics

__all__ = ["Metrics", "bind_command", "configure_logging", "render_metrics"]
