"""What a planner hands back: text (markdown), tables and notices, rendered by the chat or printed as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Block:
    kind: Literal["text", "table", "notice", "error"]
    text: str = ""
    title: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Reply:
    planner: str = ""
    blocks: list[Block] = field(default_factory=list)

    def say(self, text: str) -> Reply:
        if text.strip():
            self.blocks.append(Block("text", text.strip()))
        return self

    def notice(self, text: str) -> Reply:
        self.blocks.append(Block("notice", text.strip()))
        return self

    def error(self, text: str) -> Reply:
        self.blocks.append(Block("error", text.strip()))
        return self

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> Reply:
        self.blocks.append(Block("table", title=title, columns=columns, rows=[[str(c) for c in r] for r in rows]))
        return self

    def plain(self) -> str:
        out: list[str] = []
        for b in self.blocks:
            if b.kind == "table":
                out.append(b.title)
                out.extend("  " + " | ".join(r) for r in b.rows)
            else:
                out.append(b.text)
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {"planner": self.planner, "text": self.plain(), "blocks": [asdict(b) for b in self.blocks]}

    def __bool__(self) -> bool:
        return bool(self.blocks)
