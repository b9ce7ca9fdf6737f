"""pixbridge-graph: an Exchange Online mailbox through Microsoft Graph.

Registered under the entry point ``graph`` in group ``pixbridge``. It adds two adapters:
``graph`` (a mail source: ``[pipeline] mail_source = "graph"``, settings in
``[adapters.graph]``) and ``graph-sender`` (a mail sender: ``[pipeline] mail_sender =
"graph-sender"``, settings in ``[adapters.graph-sender]``). See the README.
"""

from __future__ import annotations

from pixbridge import hookimpl
from pixbridge.registry import AdapterRegistry
from pixbridge_graph.sender import GraphSender
from pixbridge_graph.source import GraphSource

__all__ = ["GraphSender", "GraphSource", "register_adapters"]


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the Graph mail source and mail sender."""
    registry.add(GraphSource)
    registry.add(GraphSender)
