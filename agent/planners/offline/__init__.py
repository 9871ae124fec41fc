"""The offline planner: the embedded default. No key, no network, deterministic.

It recognises the core procedure's common requests in the phrasings owners use (``intents``),
asks for missing details one question at a time (``engine``), and calls the same tools through
the same gate as Claude does (``flows``). When it does not understand it says so and lists what
it can do (``help``).
"""

from __future__ import annotations

from backoffice.agent.planners.offline.flows import Flows
from backoffice.agent.planners.offline.intents import INTENTS


class OfflinePlanner(Flows):
    def __init__(self) -> None:
        super().__init__()
        self.intents = INTENTS
