"""backoffice: a conversational back office for small service businesses.

The installed package is ``backoffice``; its parts live in the repository's top-level folders:

    backoffice/   this file and ``__main__`` (``python -m backoffice``)
    agent/        backoffice.agent: the command line, the chat, planners, the gate, reports on schedule
    tools/        backoffice.tools: the book (storage, records, rules) and the tools that read and change it
    schemas/      backoffice.schemas: the JSON Schema contracts of the stores (data, shipped in the wheel)
    procedures/   backoffice.procedures: the procedure files the agent follows (data, shipped in the wheel)
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up only when asked for: importlib.metadata costs more start-up time
    # than the rest of ``backoffice --help`` together.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("backoffice")
        except PackageNotFoundError:  # running from a checkout that was never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
