"""A small sample plumbing business, so a new owner's first chat has something to talk about.

Everything is dated relative to today: there is always a stale lead, an overdue follow-up, one
due today, a proposal out, a won job and a lost one. Built through the same tools the agent uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.tools.book import clock
from backoffice.tools.book.store import Store
from backoffice.tools.catalog import get_tool
from backoffice.tools.errors import BackofficeError


def _call(store: Store, tool_name: str, /, **args: Any) -> dict[str, Any]:
    tool = get_tool(tool_name)
    return tool.func(store, tool.parse(args))


def load_demo(store: Store) -> dict[str, int]:
    if store.count("contacts") or store.count("leads"):
        raise BackofficeError(
            f"{store.directory} already holds a customer book; the sample business only loads into an empty "
            "data dir (try --data-dir demo-data)."
        )
    today = store.today()
    cal = store.calendar

    def at(business_days_ago: int, hour: int = 10) -> dt.datetime:
        day = today
        n = business_days_ago
        while n > 0:
            day -= dt.timedelta(days=1)
            if cal.is_business_day(day):
                n -= 1
        return dt.datetime.combine(day, dt.time(hour), tzinfo=store.tz)

    def on(when: dt.datetime) -> Any:
        return clock.frozen(when)

    with store.acting_as("import"), store.transaction():
        with on(at(30)):
            smith_co = _call(
                store,
                "create_company",
                name="Smith & Sons Property Management",
                type="business",
                main_phone="(555) 310-2000",
                billing_address="200 Commerce Way, Springfield",
            )["company"]
            joe = _call(
                store,
                "create_contact",
                name="Joe Smith",
                phone="555-310-2001",
                email="joe@smithandsons.example",
                address="200 Commerce Way, Springfield",
                company_id=smith_co["company_id"],
                source="referral",
            )["contact"]
            dana = _call(
                store,
                "record_inquiry",
                name="Dana Reyes",
                phone="555-201-7788",
                email="dana@reyesplumbing.example",
                address="14 Oak St, Springfield",
                description="Water heater is 15 years old and leaking; wants a replacement quote.",
                title="Water heater replacement at 14 Oak St",
                source="referral",
            )
        with on(at(25)):
            _call(store, "qualify_lead", lead_id=dana["lead"]["lead_id"], estimated_value=2800)
            won = _call(store, "convert_lead", lead_id=dana["lead"]["lead_id"], amount=2800)["opportunity"]
        with on(at(20)):
            store.update(
                "opportunities", won["opportunity_id"], {"stage": "won", "close_date": at(20).date()}, action="won"
            )
            store.update(
                "contacts", dana["contact"]["contact_id"], {"lifecycle_stage": "customer"}, action="became_customer"
            )
        with on(at(12)):
            boiler = _call(
                store,
                "record_inquiry",
                phone="555-310-2001",
                description="Annual boiler service for 3 buildings.",
                title="Annual boiler service — Smith & Sons",
                source="email",
            )
            _call(store, "qualify_lead", lead_id=boiler["lead"]["lead_id"], estimated_value=2400)
            opp = _call(store, "convert_lead", lead_id=boiler["lead"]["lead_id"], amount=2400)["opportunity"]
        with on(at(9)):
            _call(
                store,
                "log_interaction",
                type="email_outbound",
                opportunity_id=opp["opportunity_id"],
                contact_id=joe["contact_id"],
                subject="Boiler service proposal",
                body="Sent the proposal for three boilers, $2,400.",
                outcome="sent_proposal",
            )
        with on(at(15)):
            deck = _call(
                store,
                "record_inquiry",
                name="Ray Gomez",
                phone="555-777-0101",
                address="5 Birch Ln",
                description="Re-pipe the whole house.",
                title="Whole-house re-pipe at 5 Birch Ln",
            )
            _call(store, "qualify_lead", lead_id=deck["lead"]["lead_id"], estimated_value=9500)
            lost = _call(store, "convert_lead", lead_id=deck["lead"]["lead_id"], amount=9500)["opportunity"]
        with on(at(4)):
            _call(
                store,
                "mark_opportunity_lost",
                opportunity_id=lost["opportunity_id"],
                reason="price",
                note="Went with a cheaper quote.",
                competitor="Budget Pipes",
            )
        with on(at(8)):
            marcus = _call(
                store,
                "record_inquiry",
                name="Marcus Chen",
                phone="(555) 123-4567",
                email="marcus.chen@example.com",
                address="77 Pine Ave",
                description="Kitchen sink and dishwasher hookup for a remodel.",
                title="Kitchen remodel plumbing at 77 Pine Ave",
                source="web_form",
                estimated_value=3500,
            )
        with on(at(6)):
            _call(
                store,
                "log_interaction",
                type="phone_call",
                lead_id=marcus["lead"]["lead_id"],
                body="Walked through the remodel; sent a ballpark estimate by email.",
                outcome="sent_proposal",
            )
        with on(at(5)):
            linda = _call(
                store,
                "record_inquiry",
                name="Linda Ortiz",
                phone="555-410-9090",
                address="410 Main St",
                description="Basement floods when it rains; sump pump may be dead.",
                title="Sump pump at 410 Main St",
                source="phone_call",
            )
        with on(at(2)):
            _call(
                store,
                "log_interaction",
                type="phone_call",
                lead_id=linda["lead"]["lead_id"],
                body="Left a voicemail about a site visit.",
                outcome="left_voicemail",
                follow_up_date=at(1).date(),
            )
        with on(at(1)):
            tom = _call(
                store,
                "record_inquiry",
                name="Tom Becker",
                phone="555-880-1234",
                email="tom.becker@example.com",
                address="88 Oak St",
                description="Bathroom exhaust fan install, also a running toilet.",
                title="Bathroom fan at 88 Oak St",
                source="phone_call",
                estimated_value=450,
            )
            _call(
                store,
                "log_interaction",
                type="phone_call",
                contact_id=tom["contact"]["contact_id"],
                lead_id=tom["lead"]["lead_id"],
                body="He wants a price before the holidays; call back with a quote.",
                outcome="spoke",
                follow_up_date=today,
            )
        with on(at(0, hour=8)):
            _call(
                store,
                "record_inquiry",
                name="Priya Patel",
                email="priya.patel@example.com",
                description="Kitchen faucet drips constantly, at 123 Main St.",
                title="Leaky faucet at 123 Main",
                source="email",
            )
        with on(at(10)):
            spam = _call(
                store,
                "record_inquiry",
                name="Kevin Marsh",
                phone="555-222-3333",
                description="Wants a commercial pool installed.",
                title="Commercial pool install",
            )
            _call(
                store,
                "disqualify_lead",
                lead_id=spam["lead"]["lead_id"],
                reason="outside_scope",
                note="We don't do pools.",
            )
        _measures(store, at, on, won, opp, lost, dana, boiler, deck, marcus, tom)
    return store.counts()


def _measures(store: Store, at: Any, on: Any, won: Any, opp: Any, lost: Any, *leads: Any) -> None:
    """What the owner measures, added after the rest so no record above changes its id: where the
    leads came from, the answers that qualified the converted ones and their class, who else is
    bidding on the boiler job, and two months of ad spend."""
    dana, boiler, deck, marcus, tom = leads
    with on(at(3)):
        for lead, detail in ((dana, "Neighbor referral"), (marcus, "Google Ads"), (tom, "Yelp"), (deck, "Yelp")):
            store.update("leads", lead["lead"]["lead_id"], {"source_detail": detail}, action="source_set")
        answers = {"need": "replace a leaking water heater", "budget": "confirmed", "decision_maker": "yes",
                   "timeline": "this_month", "site_access": "basement, easy"}  # fmt: skip
        for lead, job, effort in ((dana, won, "gold"), (boiler, opp, "gold"), (deck, lost, "silver")):
            lead_id = lead["lead"]["lead_id"]
            record = store.linked("qualifications", "lead_id", lead_id)
            fields = {"answers": answers, "status": "complete", "outcome": "qualified", "effort_class": effort,
                      "completed_at": store.now()}  # fmt: skip
            if record:
                store.update("qualifications", record[0]["qualification_id"], fields, action="completed")
            else:
                store.insert("qualifications", {"lead_id": lead_id, "definition_version": 1, **fields})
            store.update("leads", lead_id, {"effort_class": effort}, action="class_changed")
            store.update("opportunities", job["opportunity_id"], {"effort_class": effort}, action="class_changed")
        rival = {"competitors": ["Acme Heating"]}
        store.update("opportunities", opp["opportunity_id"], rival, action="competitor_added")
    this_month = f"{store.today():%Y-%m}"
    first = store.today().replace(day=1)
    last_month = f"{first - dt.timedelta(days=1):%Y-%m}"
    for month, source, amount in ((last_month, "Google Ads", 380), (last_month, "Yelp", 150),
                                  (this_month, "Google Ads", 400), (this_month, "Yelp", 150)):  # fmt: skip
        store.insert("source_spend", {"source": source, "month": month, "amount": amount}, action="recorded")
