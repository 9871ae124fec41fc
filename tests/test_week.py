"""An owner's real week, end to end through the chat and the command line (issue 13, "Done when").

Monday to Friday, 23-27 November 2026, for a plumbing business in Texas: customers added, a call
logged with its callback, an email inquiry and a web form arriving through `backoffice inbound`,
an estimate sent, the customer's reply, follow-ups closed and cancelled, a win (QuickBooks
declined), a loss to a competitor, everyday edits. Then `backoffice check`, and the digest, the
pipeline and the month's win/loss are checked against figures worked out by hand below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.tools.book.store import Store

from .conftest import lines

MAIL = Path(__file__).parent / "fixtures" / "mail"
SETTINGS = {
    "business_name": "Reyes Plumbing & Remodel",
    "owner_name": "Luis",
    "owner_email": "office@reyesplumbing.example",
    "timezone": "America/Chicago",
}


def test_a_week_of_the_owners_work_leaves_a_sound_book_and_reports_that_add_up(
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    data_dir.mkdir(mode=0o700, parents=True)  # as the product makes it: `check` reports a book others can read
    (data_dir / "settings.json").write_text(json.dumps(SETTINGS))
    (data_dir / "settings.json").chmod(0o600)

    def on(moment: str) -> None:
        monkeypatch.setenv("BACKOFFICE_NOW", moment)

    def chat(*said: str) -> str:
        code, screen = cli("chat", stdin=lines(*said))
        assert code == 0, screen
        return screen

    def inbound(name: str) -> str:
        code, screen = cli("inbound", str(MAIL / name))
        assert code == 0, screen
        return screen

    # ---- Monday: a new customer and his lead, a call with a promised quote; mail and a web form arrive
    on("2026-11-23T08:00:00")
    screen = chat(
        "add a new customer, Ben Alvarez, 512-555-0142, ben.alvarez@example.com, 9 Cedar Ct",
        "open a lead for Ben: water heater replacement, about $2,400",
        "called ben, he wants the 50 gallon unit, send the quote by tuesday",
    )
    assert "Opened lead L-1: Water heater replacement for Ben Alvarez" in screen
    assert "Follow-up set for Tue Nov 24." in screen
    assert "New inquiry from María González" in inbound("alternative.eml")
    inbound("forms/cf7_shower_valve_leak.eml")  # a web form: one new lead, whoever the form names

    # ---- Tuesday: the estimate goes out (closing the callback it answers), María is called, Ben replies
    on("2026-11-24T09:00:00")
    screen = chat(
        "bump ben's water heater lead to 2450",
        "emailed ben the estimate for the water heater, follow up friday",
        "log a call with maría, she wants someone out thursday, call her back wednesday",
    )
    assert "Closed the follow-up it answers" in screen
    reply = inbound("replies/threaded_gmail_quoted.eml")
    assert "lead" not in reply.lower() or "Logged" in reply

    # ---- Wednesday: Ben's job is won (QuickBooks: not now), his Friday follow-up is no longer needed
    on("2026-11-25T10:00:00")
    screen = chat(
        "convert ben's water heater lead to a job",
        "mark the water heater job won", "yes",
        "cancel the follow-up with ben",
        "called maría back, she's booked for friday",
    )  # fmt: skip
    assert screen.count("Go ahead? [yes/no]") == 1 and "QuickBooks is not connected" in screen  # said, not asked

    # ---- Thursday: María's job is lost to a cheaper competitor
    on("2026-11-26T10:00:00")
    screen = chat(
        "convert maría's lead to a job", "52 Pine St, Springfield",
        "we lost maría's job, she went with a cheaper guy, Acme Plumbing", "no",
        "cancel the follow-up with maría",  # the visit she booked for Friday is off
    )  # fmt: skip
    assert "Marked" in screen and "lost (competition, to Acme Plumbing)" in screen

    # ---- Friday: everyday edits, then the owner checks the book and reads the reports
    on("2026-11-27T09:00:00")
    chat("change ben's phone to 512-555-0199", "tag ben as maintenance contract")
    code, screen = cli("check")
    assert code == 0, screen

    store = Store(data_dir)
    ben = store.require("contacts", "C-1")
    assert ben["phones"][0] == "+15125550199" and "maintenance_contract" in ben["tags"]
    assert ben["lifecycle_stage"] == "customer" and not ben.get("quickbooks_customer_id")
    water_heater = store.require("opportunities", "O-1")
    assert (
        water_heater["stage"] == "won" and water_heater["amount"] == 2450 and water_heater["close_date"] == "2026-11-25"
    )
    lost = store.require("opportunities", "O-2")
    assert (lost["stage"], lost["lost_reason"], lost["competitor"]) == ("lost", "competition", "Acme Plumbing")
    maria = store.require("contacts", lost["contact_id"])
    assert maria["first_name"] == "María" and maria["address"] == "52 Pine St, Springfield"
    assert store.count("leads") == 3 and store.count("contacts") == 3  # mail and the form made one each
    # every follow-up of the week was answered or cancelled
    assert store.pending_follow_ups() == []
    ben_mail = [i for i in store.linked("interactions", "contact_id", "C-1") if i["type"] == "email_inbound"]
    assert len(ben_mail) == 1 and ben_mail[0]["lead_id"] == "L-1"  # the reply went on his lead, no new lead
    actors = {e["actor"] for e in store.events()}
    assert {"agent", "owner", "email"} <= actors  # every change has its author in the log
    store.close()

    # ---- the reports, worked out by hand for Friday 27 November
    # Digest: nothing is due (every follow-up closed or cancelled); the web form, sent on Tuesday
    # morning (its Date header is its activity), has been quiet for Wed, Thu and Fri: the three
    # business days make it the one quiet lead, 3 days.
    code, out = cli("--json", "digest")
    digest = json.loads(out)
    assert digest["follow_ups"] == []
    assert [(r["lead_id"], r["days_since_activity"]) for r in digest["stale_leads"]] == [("L-3", 3)]
    # Pipeline, 21-27 Nov: three new leads; one still open (the form's, 4 days old); no proposal out
    # (Ben's estimate became a won job); won 1 for $2,450; lost 1.
    code, out = cli("--json", "pipeline")
    pipeline = json.loads(out)
    assert (pipeline["from"], pipeline["to"]) == ("2026-11-21", "2026-11-27")
    assert pipeline["new_leads"] == 3 and pipeline["in_follow_up"] == 1 and pipeline["in_follow_up_avg_age_days"] == 4
    assert pipeline["proposals_out"] == 0 and pipeline["proposals_value"] == 0
    assert (pipeline["won"], pipeline["won_value"], pipeline["lost"]) == (1, 2450, 1)
    assert pipeline["oldest_open_lead"]["lead_id"] == "L-3"
    # Win/loss for November: 3 new leads (1 still open), 2 turned into jobs, 1 won / 1 lost = 50%,
    # two days from Ben's first inquiry (Mon) to the win (Wed), lost to competition; the owner's own
    # lead (source other) brought the one win.
    code, out = cli("--json", "winloss", "--month", "2026-11")
    winloss = json.loads(out)
    assert (winloss["new_leads"], winloss["new_leads_still_open"], winloss["converted_to_jobs"]) == (3, 1, 2)
    assert (winloss["won"], winloss["won_value"], winloss["lost"], winloss["win_rate"]) == (1, 2450, 1, 0.5)
    assert winloss["avg_days_to_close"] == 2 and winloss["loss_reasons"] == {"competition": 1}
    assert winloss["top_sources"][0] == {"source": "other", "leads": 1, "won": 1}
    assert sum(s["leads"] for s in winloss["top_sources"]) == 3
