"""The pipeline board: the open jobs in a column per stage (the playbook's stages, in order), with
their amount, class, days at the stage and a mark when they have sat there past the stage's stale
threshold; the open leads by their stage too when asked. Drawn as a table in the terminal, or
written as one self-contained HTML page (inline style, no script, nothing fetched)."""

from __future__ import annotations

import html
from typing import Any

from pydantic import Field

from backoffice.tools.book.models import OPEN_LEAD_STATUSES
from backoffice.tools.book.normalize import full_name, money
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.stages import days_in_stage, stale_after
from backoffice.tools.registry import ToolInput, tool


def open_jobs(n: int) -> str:
    return f"{n:,} open job{'' if n == 1 else 's'}"


def _cards(store: Store, kind: str, records: list[Doc]) -> dict[str, list[dict[str, Any]]]:
    today = store.today()
    days = days_in_stage(store, records, today)
    contacts = store.many("contacts", [r["contact_id"] for r in records if r.get("contact_id")])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        rid = r.get("opportunity_id") if kind == "job" else r["lead_id"]
        stage = r["stage"] if kind == "job" else r["pipeline_stage"]
        limit = stale_after(store, kind, stage)
        contact = contacts.get(r.get("contact_id") or "")
        value = r.get("amount") if kind == "job" else r.get("estimated_value")
        out.setdefault(stage, []).append({
            "id": rid, "name": r.get("name") or r.get("title"), "customer": full_name(contact) if contact else None,
            "amount": value, "class": r.get("effort_class"), "days_in_stage": days[str(rid)],
            "stale": bool(limit is not None and days[str(rid)] > limit),
        })  # fmt: skip
    return out


def board_data(store: Store, with_leads: bool = False) -> dict[str, Any]:
    stages = store.playbook.stages
    with store.reading():
        jobs = store.open_jobs()
        leads = store.scan("leads", status=OPEN_LEAD_STATUSES) if with_leads else []
    by_stage = _cards(store, "job", jobs)
    columns: list[dict[str, Any]] = []
    for s in stages.jobs:
        cards = sorted(by_stage.get(s.name, []), key=lambda c: -(c["amount"] or 0))
        total = sum(float(c["amount"] or 0) for c in cards)
        columns.append({"stage": s.name, "label": s.label, "probability": s.probability, "jobs": cards,
                        "value": round(total, 2), "weighted_value": round(total * s.probability, 2)})  # fmt: skip
    data: dict[str, Any] = {
        "columns": columns,
        "open_jobs": len(jobs),
        "weighted_pipeline_value": round(sum(c["weighted_value"] for c in columns), 2),
    }
    if with_leads:
        by_lead = _cards(store, "lead", leads)
        data["lead_columns"] = [{"stage": s.name, "label": s.label, "leads": by_lead.get(s.name, [])}
                                for s in stages.leads]  # fmt: skip
    return data


class BoardInput(ToolInput):
    with_leads: bool = Field(default=False, description="also show the open leads by their stage")


@tool("read")
def pipeline_board(store: Store, args: BoardInput) -> dict[str, Any]:
    """The pipeline board: open jobs in a column per stage (amount, class, days at the stage, stuck ones
    marked), each column's value and weighted value; with with_leads, the open leads by stage too."""
    return board_data(store, args.with_leads)


# ---------------------------------------------------------------------------- drawing
def card_line(card: dict[str, Any]) -> str:
    parts = [f"{card['name']} ({card['id']})"]
    if card.get("customer"):
        parts.append(card["customer"])
    if card.get("amount"):
        parts.append(money(card["amount"]))
    if card.get("class"):
        parts.append(str(card["class"]))
    parts.append(f"{card['days_in_stage']}d" + (" STUCK" if card["stale"] else ""))
    return " · ".join(parts)


def board_table(data: dict[str, Any], key: str = "columns", items: str = "jobs") -> tuple[list[str], list[list[str]]]:
    """(column headings, rows): one column per stage, one card per cell, as deep as the fullest stage."""
    columns = data[key]
    heads = [f"{c['label']} ({len(c[items])})" + (f" {money(c['value'])}" if c.get("value") else "") for c in columns]
    depth = max((len(c[items]) for c in columns), default=0)
    rows = [[card_line(c[items][i]) if i < len(c[items]) else "" for c in columns] for i in range(depth)]
    return heads, rows


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5rem;
background:#f4f5f7;color:#172b4d}
h1{font-size:1.3rem;margin:0 0 .3rem} p.sum{margin:0 0 1rem;color:#42526e}
.board{display:flex;gap:1rem;align-items:flex-start;overflow-x:auto}
.col{background:#ebecf0;border-radius:6px;min-width:15rem;max-width:18rem;padding:.5rem}
.col h2{font-size:.95rem;margin:.2rem .3rem .5rem} .col h2 small{font-weight:normal;color:#5e6c84}
.card{background:#fff;border-radius:4px;box-shadow:0 1px 1px #091e4240;padding:.5rem;margin:.4rem 0}
.card .n{font-weight:600} .card .m{color:#5e6c84;font-size:.85rem}
.stale{border-left:4px solid #de350b} .gold{outline:2px solid #d4a017}
.tag{display:inline-block;font-size:.75rem;padding:0 .35rem;border-radius:3px;background:#dfe1e6;margin-left:.3rem}
"""


def _card_html(card: dict[str, Any]) -> str:
    classes = "card" + (" stale" if card["stale"] else "") + (" gold" if card.get("class") == "gold" else "")
    meta = [card["customer"] or "", money(card["amount"]) if card.get("amount") else "",
            f"{card['days_in_stage']} days here" + (" — stuck" if card["stale"] else "")]  # fmt: skip
    tag = f'<span class="tag">{html.escape(str(card["class"]))}</span>' if card.get("class") else ""
    return (f'<div class="{classes}" data-id="{html.escape(str(card["id"]))}"><div class="n">'
            f'{html.escape(str(card["name"]))}{tag}</div>'
            f'<div class="m">{html.escape(" · ".join(m for m in meta if m))}</div></div>')  # fmt: skip


def _columns_html(columns: list[dict[str, Any]], items: str) -> str:
    out = ['<div class="board">']
    for c in columns:
        value = f" · {money(c['value'])}" if c.get("value") else ""
        out.append(f'<section class="col" data-stage="{html.escape(c["stage"])}"><h2>{html.escape(c["label"])} '
                   f"<small>{len(c[items])}{html.escape(value)}</small></h2>")  # fmt: skip
        out.extend(_card_html(card) for card in c[items])
        out.append("</section>")
    out.append("</div>")
    return "".join(out)


def board_html(data: dict[str, Any], business: str, today: str) -> str:
    """One page, everything inline: no script, no stylesheet or font to fetch."""
    title = f"{business} — pipeline board, {today}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sum">{open_jobs(data["open_jobs"])} · weighted value '
        f"{html.escape(money(data['weighted_pipeline_value']))} (amount × the stage's chance of winning)</p>",
        _columns_html(data["columns"], "jobs"),
    ]
    if "lead_columns" in data:
        parts += ['<h1 style="margin-top:1.5rem">Open leads</h1>', _columns_html(data["lead_columns"], "leads")]
    parts.append("</body></html>")
    return "\n".join(parts)
