"""Stage 4, protocols: how a run's data is read, split, scored and reported.

:data:`PROTOCOLS` maps the ``--protocol`` names to their :class:`Protocol` objects; a new
protocol is a new module here and one line in that dict (see the README's "Adding a
protocol" and ``docs/protocols.md``). Nothing here imports Paddle at import time.
"""
from __future__ import annotations

from typing import Dict

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.protocols.base import MEMORY_SHARE, PreparedData, Protocol, check_table_memory
from srgnn_paddle.protocols.loo import LeaveOneOutProtocol
from srgnn_paddle.protocols.notebook import NotebookProtocol
from srgnn_paddle.protocols.paper import PaperProtocol

#: ``train --protocol NAME`` -> the protocol object.
PROTOCOLS: Dict[str, Protocol] = {
    NotebookProtocol.name: NotebookProtocol(),
    PaperProtocol.name: PaperProtocol(),
    LeaveOneOutProtocol.name: LeaveOneOutProtocol(),
}


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``; SrgnnError naming the choices when there is none."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise SrgnnError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None


def protocol_defaults() -> Dict[str, Dict[str, object]]:
    """``{protocol: the defaults that differ from the notebook's}`` of every registered protocol."""
    return {name: dict(p.defaults) for name, p in PROTOCOLS.items() if p.defaults}


__all__ = ["PROTOCOLS", "Protocol", "PreparedData", "MEMORY_SHARE", "check_table_memory", "get_protocol",
           "protocol_defaults", "NotebookProtocol", "PaperProtocol", "LeaveOneOutProtocol"]
