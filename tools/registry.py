"""Tools are typed functions ``fn(store, args: InputModel) -> dict``.

``@tool(effect)`` turns one into a ``Tool``; ``catalog.TOOLS`` lists every tool the agent offers.
Each tool declares its effect:
- ``read``          looks only;
- ``write``         changes the book (validated, logged as events);
- ``consequential`` does something the owner must say yes to first (send to a customer, win a deal,
                    create a QuickBooks customer, create a duplicate contact, merge). The agent's gate
                    enforces that; a tool never asks by itself.

A consequential tool also declares whether it is ``idempotent``: whether running the same call a
second time, after a run that was interrupted half-way, can do nothing twice because the tool
checks for its own earlier run (a message looks for its Message-ID in the book and the mailbox;
QuickBooks is searched before a customer is created). The gate re-runs those; every other tool it
runs inside one book transaction that records the approval, so an interrupted run is either wholly
in the book or not at all, and a second approval can tell which.

The docstring is the description the model reads; the input schema is derived from the pydantic
model, so nobody writes a tool schema by hand.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pydantic import BaseModel, ValidationError

from backoffice.tools.errors import ToolArgumentError

if TYPE_CHECKING:
    from backoffice.tools.book.store import Store

Effect = Literal["read", "write", "consequential"]


class ToolInput(BaseModel):
    model_config = {"extra": "forbid", "defer_build": True}


Preview = Callable[["Store", dict[str, Any]], tuple[str, str]]
FollowUps = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]
Ready = Callable[["Store"], "str | None"]


@dataclass(frozen=True)
class Tool:
    """A typed tool and its policy: what it does to the book, how the owner is shown a call before
    saying yes (``preview``: a title and the whole text), and which calls follow once it ran with
    the owner's yes (``then``: e.g. winning a job asks about QuickBooks next), and whether it can run at
    all right now (``ready``: None, or the sentence saying why not — QuickBooks not connected — so the
    owner is told at once instead of being asked for a yes that cannot work)."""

    name: str
    effect: Effect
    input_model: type[BaseModel]
    func: Callable[..., dict[str, Any]]
    description: str
    preview: Preview | None = None
    then: FollowUps | None = None
    ready: Ready | None = None
    idempotent: bool = False  # a second run after an interrupted one cannot do anything twice

    def __call__(self, store: Store, args: BaseModel) -> dict[str, Any]:
        return self.func(store, args)

    def parse(self, raw: dict[str, Any] | BaseModel) -> BaseModel:
        if isinstance(raw, self.input_model):
            return raw
        if isinstance(raw, BaseModel):
            raw = raw.model_dump()
        try:
            return self.input_model.model_validate(raw or {})
        except ValidationError as exc:
            raise ToolArgumentError(describe_validation(self.name, exc)) from exc

    def definition(self) -> dict[str, Any]:
        schema = self.input_model.model_json_schema()
        schema.pop("title", None)
        return {"name": self.name, "description": self.description, "input_schema": schema}

    def describe_call(self, store: Store, args: dict[str, Any]) -> tuple[str, str]:
        """The title and text the owner reads before saying yes to this call."""
        if self.preview is not None:
            return self.preview(store, args)
        shown = "\n".join(f"{k}: {v}" for k, v in args.items() if v not in (None, "", [], {}))
        return f"Run {self.name.replace('_', ' ')}", shown or "(no details)"


def tool(
    effect: Effect,
    *,
    preview: Preview | None = None,
    then: FollowUps | None = None,
    ready: Ready | None = None,
    idempotent: bool = False,
) -> Callable[[Callable[..., dict[str, Any]]], Tool]:
    """Declare a function ``fn(store, args: InputModel) -> dict`` a tool. Its docstring is what the
    model reads; its input schema comes from the model. Tools are listed in ``catalog.TOOLS``."""

    def declare(func: Callable[..., dict[str, Any]]) -> Tool:
        hints = get_type_hints(func)
        params = list(inspect.signature(func).parameters)
        if len(params) != 2:
            raise TypeError(f"tool {func.__name__} must take (store, args)")
        doc = inspect.getdoc(func) or ""
        if not doc:
            raise TypeError(f"tool {func.__name__} needs a docstring: it is what the model reads")
        return Tool(func.__name__, effect, hints[params[1]], func, doc, preview, then, ready, idempotent)

    return declare


def describe_validation(name: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "is not an argument of this tool"
        parts.append(f"{where} {message}" if err["type"] == "extra_forbidden" else f"{where}: {message}")
    return f"{name} was given bad arguments: " + "; ".join(parts)
