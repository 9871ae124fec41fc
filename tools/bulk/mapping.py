"""What other systems call things, and what we call them.

Column names from the exports of Google Contacts, Outlook, QuickBooks, HubSpot, Salesforce,
SuiteCRM and Zoho (and our own exports) are mapped onto import fields; their lead statuses,
lead sources and lifecycle stages onto ours. Column names are compared with case, spaces and
punctuation ignored, so "First Name", "FirstName" and "first_name" are the same column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from backoffice.tools.book.models import DisqualificationReason, LeadSource, LeadStatus

# import field -> what it means (shown by --help and when --map names an unknown field)
FIELDS: dict[str, str] = {
    "first_name": "first (given) name",
    "last_name": "last (family) name",
    "name": "full name, split into first and last",
    "company": "company name: linked to an existing company or a new one",
    "job_title": "job title (kept in the contact's notes)",
    "email": "email address (several may be separated by ; or ,)",
    "email2": "another email address",
    "phone": "main phone",
    "mobile": "mobile phone",
    "phone2": "another phone",
    "address": "the whole address in one cell",
    "street": "street part of the address",
    "city": "city",
    "state": "state, province or region",
    "postal_code": "ZIP or postal code",
    "country": "country (also the region phone numbers are read in)",
    "website": "website",
    "notes": "notes",
    "description": "what the inquiry is about (the lead's description)",
    "note": "any column to keep in the notes as 'Column: value'",
    "tags": "tags or labels (separated by ; , or :::)",
    "source": "lead source",
    "status": "lead status",
    "lifecycle": "lifecycle stage (prospect, customer, past customer)",
    "owner": "who the lead is assigned to",
    "lead_title": "the lead's short title",
    "value": "estimated value of the work",
    "created": "when the record was created in the other system",
    "external_id": "the record's id in the other system (makes re-imports recognise it)",
    "preferred_channel": "phone, email or sms",
    "archived": "true for an archived contact",
    "quickbooks_customer_id": "the QuickBooks customer id",
    "pipeline_stage": "our pipeline stage",
    "disqualification_reason": "our disqualification reason",
    "expected_close_date": "expected close date",
    "ignore": "do not import this column",
}
# what the owner can choose for a row that matches someone already known
Policy = Literal["skip", "update", "create"]
POLICIES: tuple[Policy, ...] = ("skip", "update", "create")
MULTI = {"phone", "mobile", "phone2", "email", "email2", "note", "tags", "notes"}  # several columns may map here
ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")  # several address blocks: the first filled one


def column_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _aliases(table: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, names in table.items():
        for name in names.split("|"):
            out[column_key(name)] = field
    return out


# Generic names, then each system's own. "|" separates alternatives.
GENERIC = _aliases(
    {
        "first_name": "first name|firstname|given name|first|forename|first_name",
        "last_name": "last name|lastname|family name|surname|last|last_name",
        "name": "name|full name|contact name|contact|display name|customer name|contact_name",
        "company": "company|company name|organization|organisation|organization name|organization 1 - name|"
        "account name|account|business name|company / account|employer",
        "job_title": "job title|title|position|designation|organization title|organization 1 - title|role",
        "email": "email|e-mail|mail|email address|e-mail address|primary email|e-mail 1 - value|email 1|work email|"
        "emails|contact_email",
        "email2": "email 2|e-mail 2 - value|e-mail 2 address|secondary email|other email|non primary e-mails|"
        "personal email|e-mail 3 - value|e-mail 3 address",
        "phone": "phone|phone number|telephone|tel|business phone|office phone|work phone|main phone|"
        "phone 1 - value|primary phone|phones|contact_phone",
        "mobile": "mobile|mobile phone|mobilephone|cell|cell phone|mobile phone number|mobile number",
        "phone2": "phone 2|other phone|home phone|phone 2 - value|phone 3 - value|business phone 2|alt phone|"
        "alt. phone|alternate phone|secondary phone|home phone 2|company main phone",
        "address": "address|full address|address 1 - formatted|mailing address|service address|billing address|"
        "primary address|location",
        "street": "street|street address|address line 1|address 1 - street|mailing street|business street|"
        "billing street|primary address street|address 1|bill to 1",
        "city": "city|town|address 1 - city|mailing city|business city|billing city|primary address city",
        "state": "state|province|region|state/province|state/region|county|address 1 - region|mailing state|"
        "business state|billing state|primary address state",
        "postal_code": "zip|zip code|postal code|postcode|postalcode|zip/postal code|address 1 - postal code|"
        "mailing zip|business postal code|billing zip|billing zip code|billing postal code|"
        "primary address postalcode",
        "country": "country|country/region|address 1 - country|mailing country|business country/region|"
        "billing country|primary address country",
        "website": "website|web site|web page|url|website 1 - value|homepage",
        "notes": "notes|note|comments|comment|remarks",
        "description": "description|details|inquiry|message|request|project description",
        "tags": "tags|labels|categories|group membership|tag",
        "source": "lead source|leadsource|source|original source|how did you hear|referral source|channel",
        "status": "lead status|status",
        "lifecycle": "lifecycle stage|lifecyclestage|lifecycle_stage|customer type|contact type",
        "owner": "lead owner|owner|contact owner|assigned to|assigned user|sales rep|rep",
        "lead_title": "lead title|subject|topic|inquiry title|opportunity name|deal name",
        "value": "estimated value|amount|opportunity amount|deal value|value|budget|estimated_value",
        "created": "created|created date|createddate|created time|date created|create date|created on|added",
        "external_id": "id|record id|lead id|leadid|contact id|customer id",
        "preferred_channel": "preferred channel|preferred_channel|preferred contact method",
        "expected_close_date": "expected close date|close date|closedate",
        "ignore": "import_line|import_problem",  # the columns our rejected-rows file adds
    }
)


@dataclass(frozen=True)
class Profile:
    key: str  # prefix of the import keys: "salesforce:00Q…"
    label: str  # shown to the owner
    kind: str  # "leads" or "contacts": what a row is by default
    signature: tuple[frozenset[str], ...]  # any one of these column sets identifies the export
    overrides: dict[str, str]  # column key -> field, taking precedence over GENERIC
    lifecycle: str = "prospect"  # for rows that say nothing about it


def _sig(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(column_key(c) for c in s.split("|")) for s in sets)


PROFILES: tuple[Profile, ...] = (
    Profile(
        "backoffice",
        "backoffice contacts export",
        "contacts",
        _sig("contact_id|lifecycle_stage|merged_into"),
        _aliases(
            {
                "external_id": "contact_id",
                "phone": "phones",
                "email": "emails",
                "notes": "notes",
                "source": "source",
                "quickbooks_customer_id": "quickbooks_customer_id",
                "archived": "archived",
                "created": "created_at",
                "ignore": "company_id|merged_into|source_ref|updated_at",
            }
        ),
    ),
    Profile(
        "backoffice",
        "backoffice leads export",
        "leads",
        _sig("lead_id|pipeline_stage|converted_opportunity_id"),
        _aliases(
            {
                "external_id": "lead_id",
                "lead_title": "title",
                "status": "status",
                "source": "source",
                "name": "contact_name",
                "phone": "contact_phone|phone",
                "email": "contact_email|email",
                "website": "url",
                "pipeline_stage": "pipeline_stage",
                "disqualification_reason": "disqualification_reason",
                "note": "disqualification_note",
                "created": "created_at",
                "ignore": "contact_id|company_id|converted_opportunity_id|source_ref|updated_at|imported_from|"
                "external_created_at",
            }
        ),
    ),
    Profile(
        "zoho",
        "Zoho CRM leads export",
        "leads",
        _sig("LEADID|Lead Owner", "Lead Owner|Lead Status", "Record Id|Lead Status|Lead Source"),
        _aliases({"external_id": "leadid|lead id|record id", "ignore": "month_created time1|converted"}),
    ),
    Profile(
        "salesforce",
        "Salesforce leads export",
        "leads",
        _sig("IsConverted|LeadSource", "MasterRecordId|LeadSource", "Lead ID|Lead Status|Company / Account"),
        _aliases({"external_id": "id|lead id", "job_title": "title", "ignore": "fax|salutation"}),
    ),
    Profile(
        "suitecrm",
        "SuiteCRM leads export",
        "leads",
        _sig("Account Name|Lead Source Description", "Status Description|Converted|Assigned to"),
        _aliases(
            {
                "company": "account name",
                "phone": "office phone",
                "external_id": "id",
                "note": "status description|lead source description|department|referred by",
                "street": "primary address street|alt address street",
                "city": "primary address city|alt address city",
                "state": "primary address state|alt address state",
                "postal_code": "primary address postalcode|alt address postalcode",
                "country": "primary address country|alt address country",
                "ignore": "address|fax|salutation|opportunity name|opportunity amount|account description",
                "owner": "assigned user",
            }
        ),
    ),
    Profile(
        "hubspot",
        "HubSpot contacts export",
        "contacts",
        _sig("Record ID|Lifecycle Stage", "Record ID|Contact owner", "Record ID|Lead Status"),
        _aliases(
            {
                "external_id": "record id",
                "phone": "phone number",
                "source": "original source|original traffic source|latest source",
                "ignore": "last activity date|original source drill-down 1|original source drill-down 2",
            }
        ),
    ),
    Profile(
        "google",
        "Google Contacts export",
        "contacts",
        _sig("Phone 1 - Value", "E-mail 1 - Value", "Given Name|Family Name"),
        _aliases(
            {
                "first_name": "given name",
                "last_name": "family name",
                "ignore": "phone 1 - label|phone 2 - label|e-mail 1 - label|e-mail 2 - label|address 1 - label|"
                "name prefix|name suffix|nickname|file as|photo|birthday|middle name|additional name",
            }
        ),
    ),
    Profile(
        "outlook",
        "Outlook contacts export",
        "contacts",
        _sig("Business Phone", "Business Street", "E-mail Display Name"),
        _aliases(
            {
                "email": "e-mail address",
                "street": "business street|home street",
                "city": "business city|home city",
                "state": "business state|home state",
                "postal_code": "business postal code|home postal code",
                "country": "business country/region|home country/region",
                "ignore": "title|suffix|middle name|e-mail display name|e-mail 2 display name|birthday",
            }
        ),
    ),
    Profile(
        "quickbooks",
        "QuickBooks customer list",
        "contacts",
        _sig(
            "Customer|Open Balance",
            "Customer|Billing Address",
            "Customer|Billing Street",
            "Customer|Bill to 1",
            "Customer|Balance",
            "Customer full name|Email",
        ),
        _aliases(
            {
                "name": "customer|customer full name|full name",
                "company": "company|company name",
                "external_id": "customer id",
                "ignore": "open balance|balance|total balance|currency|customer type|attachments",
            }
        ),
        lifecycle="customer",
    ),
)
GENERIC_PROFILE = Profile("csv", "spreadsheet", "contacts", (), {})


def detect_profile(header: Sequence[str]) -> Profile:
    keys = {column_key(h) for h in header}
    for profile in PROFILES:
        if any(sig <= keys for sig in profile.signature):
            return profile
    return GENERIC_PROFILE


def field_for(profile: Profile, column: str) -> str | None:
    key = column_key(column)
    return profile.overrides.get(key) or GENERIC.get(key)


def header_score(values: Sequence[str]) -> int:
    """How many cells of a row are column names we know: finds the header below a title block."""
    return sum(1 for v in values if v.strip() and column_key(v) in GENERIC)


BACKOFFICE_OTHER_EXPORTS = {
    "opportunity_id": "jobs (opportunities)",
    "interaction_id": "interactions",
}


# ---------------------------------------------------------------------------- values
def value_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _table(entries: dict[str, str]) -> dict[str, str]:
    return {value_key(k): v for names, v in entries.items() for k in names.split("|")}


LEAD_STATUS: dict[str, str] = _table(
    {
        "new|open|open not contacted|not contacted|assigned|unread|new lead": "new",
        "working|working contacted|contacted|attempted to contact|attempted|in process|in progress|connected|"
        "open deal|contact in future|recycled|nurture|nurturing|follow up": "working",
        "qualified|pre qualified|prequalified|sales qualified|marketing qualified|sql|mql|hot": "qualified",
        "converted|closed converted|closed won|won|customer": "converted",
        "disqualified|closed not converted|not converted|unqualified|not qualified|junk lead|junk|lost lead|"
        "lost|dead|closed lost|bad timing|closed": "disqualified",
    }
)
DISQUALIFY_REASON: dict[str, DisqualificationReason] = {
    "bad timing": "timing",
    "dead": "no_response",
    "not qualified": "outside_scope",
    "unqualified": "outside_scope",
}
LEAD_SOURCE: dict[str, str] = _table(
    {
        "phone_call|phone|phone inquiry|call|inbound call|called|phone call": "phone_call",
        "email|e mail|sales mail alias|email inquiry|inbound email|email marketing": "email",
        "web_form|web|website|web form|web site|online form|online|contact form|web lead|webform|"
        "organic search|direct traffic": "web_form",
        "referral|referrals|referred|word of mouth|partner referral|employee referral|external referral|"
        "customer referral|partner|friend": "referral",
        "ad|ads|advertisement|advertising|paid search|paid social|google ads|facebook ads|social media|"
        "banner ad|direct mail|yellow pages|newspaper": "ad",
        "other": "other",
    }
)
LIFECYCLE: dict[str, str] = _table(
    {
        "prospect|lead|subscriber|marketingqualifiedlead|salesqualifiedlead|opportunity|marketing qualified lead|"
        "sales qualified lead|other": "prospect",
        "customer|evangelist|active|active customer|client": "customer",
        "past_customer|past customer|former customer|inactive|churned": "past_customer",
    }
)
PLACEHOLDERS = {"", "-", "--", "n/a", "na", "none", "null", "nil", "unknown", "tbd", "?", "0000000000"}


def lead_status(text: str) -> tuple[LeadStatus | None, DisqualificationReason | None]:
    """Our status for another system's, and a reason when it is a disqualification. (None, None):
    not a status we know."""
    key = value_key(text)
    status = LEAD_STATUS.get(key)
    if status is None:
        return None, None
    reason: DisqualificationReason | None = DISQUALIFY_REASON.get(key, "other") if status == "disqualified" else None
    return status, reason  # type: ignore[return-value]


def lead_source(text: str) -> LeadSource | None:
    return LEAD_SOURCE.get(value_key(text))  # type: ignore[return-value]


# ---------------------------------------------------------------------------- dates
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%d %b, %Y %H:%M:%S",  # Zoho: 15 Apr, 2021 00:03:00
    "%d %b, %Y %H:%M",
    "%d %b, %Y",
    "%d %b %Y",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y",
    "%m/%d/%Y %I:%M %p",  # US reports
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


def parse_date(text: str) -> dt.datetime | None:
    value = " ".join(text.strip().split())
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


# ---------------------------------------------------------------------------- countries
COUNTRY_NAMES = _table(
    {
        "usa|us|u s a|united states|united states of america|america": "US",
        "canada": "CA",
        "uk|u k|united kingdom|great britain|england|scotland|wales|northern ireland|gb": "GB",
        "ireland": "IE",
        "australia": "AU",
        "new zealand": "NZ",
        "france": "FR",
        "germany|deutschland": "DE",
        "spain|espana": "ES",
        "italy|italia": "IT",
        "netherlands|the netherlands|holland": "NL",
        "belgium": "BE",
        "switzerland": "CH",
        "austria": "AT",
        "mexico": "MX",
        "brazil": "BR",
        "japan": "JP",
        "china": "CN",
        "taiwan": "TW",
        "hong kong": "HK",
        "singapore": "SG",
        "india": "IN",
        "south africa": "ZA",
        "sweden": "SE",
        "norway": "NO",
        "denmark": "DK",
        "finland": "FI",
        "poland": "PL",
        "portugal": "PT",
    }
)


def country_region(text: str) -> str | None:
    """The two-letter region for a country as exports write it ("USA", "Taiwan", "fr")."""
    key = value_key(text)
    if not key:
        return None
    if key in COUNTRY_NAMES:
        return COUNTRY_NAMES[key]
    code = key.upper()
    return code if len(code) == 2 and code in phonenumbers.SUPPORTED_REGIONS else None
