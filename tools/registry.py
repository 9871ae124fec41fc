"""Tools are typed functions ``fn(store, args: InputModel) -> dict``.

The decorator records each tool's effect:
- ``read``          looks only;
- ``write``         changes the book (validated, logged as events);
- ``consequential`` does something the owner must say yes to first (send to a customer, win a deal,
                    create a QuickBooks customer, create a duplicate contact, merge). The agent's gate
                    enforces that; a tool never asks by itself.

The docstring is the description the model reads; the input schema is derived from the pydantic
model, so nobody writes a tool schema by hand.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ValidationError

from backoffice.tools.errors import BackofficeError

Effect = Literal["read", "write", "consequential"]


class ToolInput(BaseModel):
    model_config = {"extra": "forbid"}


class ToolArgumentError(BackofficeError):
    pass


@dataclass(frozen=True)
class Tool:
    name: str
    effect: Effect
    input_model: type[BaseModel]
    func: Callable[..., dict[str, Any]]
    description: str

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


REGISTRY: dict[str, Tool] = {}


def tool(effect: Effect) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    def register(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        hints = get_type_hints(func)
        params = list(inspect.signature(func).parameters)
        if len(params) != 2:
            raise TypeError(f"tool {func.__name__} must take (store, args)")
        model = hints[params[1]]
        doc = inspect.getdoc(func) or ""
        if not doc:
            raise TypeError(f"tool {func.__name__} needs a docstring: it is what the model reads")
        if func.__name__ in REGISTRY:
            raise TypeError(f"tool {func.__name__} registered twice")
        REGISTRY[func.__name__] = Tool(func.__name__, effect, model, func, doc)
        return func

    return register


def describe_validation(name: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "is not an argument of this tool"
        parts.append(f"{where} {message}" if err["type"] == "extra_forbidden" else f"{where}: {message}")
    return f"{name} was given bad arguments: " + "; ".join(parts)


def get_tool(name: str) -> Tool:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise ToolArgumentError(f"There is no tool called {name!r}.") from None


def all_tools() -> dict[str, Tool]:
    _load_all()
    return dict(REGISTRY)


def _load_all() -> None:
    # importing the modules registers their tools
    from backoffice.tools.accounting import sync as accounting
    from backoffice.tools.crm import contacts as crm
    from backoffice.tools.crm import duplicates as dedupe
    from backoffice.tools.crm import interactions
    from backoffice.tools.crm import leads
    from backoffice.tools.crm import messages
    from backoffice.tools.crm import opportunities
    from backoffice.tools import reports  # noqa: F401
