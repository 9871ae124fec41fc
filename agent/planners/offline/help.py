"""What the offline planner says when asked for help: built from the declared requests, so a
procedure file that teaches it a request also lists it here."""

from __future__ import annotations

from backoffice.agent.planners.offline.requests import Understanding

GROUPS = ("Customers", "Inquiries and leads", "Calls and follow-ups", "Jobs", "Changes", "Reports", "Tidying the book")


def help_text(understanding: Understanding) -> str:
    groups: dict[str, list[str]] = {}
    for request in understanding.requests:
        if not request.group or request.group == "Help" or not request.examples:
            continue
        groups.setdefault(request.group, []).append(f'{request.help}: "{request.examples[0]}"')
    order = [g for g in GROUPS if g in groups] + [g for g in groups if g not in GROUPS]
    lines = ["Here is what I understand (offline planner — plain requests, no AI needed):"]
    for group in order:
        lines.append(f"\n**{group}**")
        lines.extend(f"- {item}" for item in groups[group])
    lines.append("\nAnything that writes to a customer, wins a job or touches QuickBooks is shown to you first.")
    lines.append("Type cancel to drop a question I asked, quit to leave.")
    return "\n".join(lines)
