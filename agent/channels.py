"""Commands for the outside world: inbound email, Gmail, QuickBooks, and ``doctor``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from tools.errors import ConfigError
from tools.store import Store

from .cli import command

MARK = {
    "lead": "[green]＋[/green]",
    "logged": "[green]✓[/green]",
    "duplicate": "[dim]=[/dim]",
    "skipped": "[dim]–[/dim]",
}


def _inbound_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE.eml", help="saved emails (.eml), e.g. exported from your mail program"
    )


@command(
    "inbound", "treat saved emails as inbound mail: new inquiries become leads, replies are logged", _inbound_arguments
)
def _inbound(args: argparse.Namespace, store: Store, console: Console) -> int:
    from .inbound import handle_inbound

    paths = [Path(f) for f in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"No such file: {', '.join(missing)}. Nothing was read.")
    results = [handle_inbound(store, p.read_bytes()) for p in paths]
    if args.json:
        print(json.dumps([{"file": str(p), **asdict(r)} for p, r in zip(paths, results, strict=True)], indent=2))
    else:
        for path, result in zip(paths, results, strict=True):
            mark = MARK.get(result.status, "[red]✗[/red]")
            console.print(f"{mark} {path.name}: {result.message}", highlight=False)
    return 1 if any(r.status == "error" for r in results) else 0
