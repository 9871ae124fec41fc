-- The book on PostgreSQL: the same tables as the file engine's index (tools/book/index.py SPEC),
-- but here they are the truth. Every text column sorts and compares by code point (COLLATE "C"),
-- as SQLite does, whatever the database's own locale: timestamps stored as UTC text compare as
-- instants, and a prefix lookup is an index range.

-- One row; every write transaction locks it first (SELECT ... FOR UPDATE), so writers from any
-- number of machines take turns, as they do on the file book's lock. Readers never wait.
CREATE TABLE book (
    id integer PRIMARY KEY CHECK (id = 1),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO book (id) VALUES (1);

CREATE TABLE t_contacts (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    lifecycle_stage text COLLATE "C",
    merged_into text COLLATE "C",
    company_id text COLLATE "C",
    source_ref text COLLATE "C",
    archived integer,
    name text COLLATE "C",
    first text COLLATE "C",
    last text COLLATE "C",
    address text COLLATE "C",
    updated_at text COLLATE "C"
);
CREATE TABLE t_companies (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    name text COLLATE "C",
    primary_contact_id text COLLATE "C"
);
CREATE TABLE t_leads (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    status text COLLATE "C",
    pipeline_stage text COLLATE "C",
    contact_id text COLLATE "C",
    company_id text COLLATE "C",
    source text COLLATE "C",
    source_ref text COLLATE "C",
    estimated_value numeric,
    expected_close_date text COLLATE "C",
    created_at text COLLATE "C",
    updated_at text COLLATE "C",
    last_ts text COLLATE "C"
);
CREATE TABLE t_interactions (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    type text COLLATE "C",
    contact_id text COLLATE "C",
    lead_id text COLLATE "C",
    opportunity_id text COLLATE "C",
    follow_up_status text COLLATE "C",
    follow_up_date text COLLATE "C",
    message_id text COLLATE "C",
    ts text COLLATE "C"
);
CREATE TABLE t_opportunities (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    stage text COLLATE "C",
    contact_id text COLLATE "C",
    lead_id text COLLATE "C",
    company_id text COLLATE "C",
    close_date text COLLATE "C",
    amount numeric,
    expected_close_date text COLLATE "C",
    created_at text COLLATE "C"
);

-- the many-valued lookups: a contact's emails and E.164 phones, the words of names and titles
CREATE TABLE multi (
    tbl text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    key bigint NOT NULL,
    PRIMARY KEY (tbl, name, value, key)
);
CREATE INDEX multi_key ON multi (tbl, key);

-- the audit log: appended in the transaction of the change it records, never updated
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx text COLLATE "C" NOT NULL,
    n integer NOT NULL,
    record_id text COLLATE "C",
    at text COLLATE "C",
    event jsonb NOT NULL,
    UNIQUE (tx, n)
);
CREATE INDEX events_record ON events (record_id, at, seq);

CREATE INDEX t_contacts_0 ON t_contacts (lifecycle_stage);
CREATE INDEX t_contacts_1 ON t_contacts (company_id);
CREATE INDEX t_contacts_2 ON t_contacts (source_ref);
CREATE INDEX t_contacts_3 ON t_contacts (merged_into);
CREATE INDEX t_companies_0 ON t_companies (name);
CREATE INDEX t_companies_1 ON t_companies (primary_contact_id);
CREATE INDEX t_leads_0 ON t_leads (status, (coalesce(last_ts, created_at)));
CREATE INDEX t_leads_1 ON t_leads (contact_id);
CREATE INDEX t_leads_2 ON t_leads (source_ref);
CREATE INDEX t_leads_3 ON t_leads (company_id);
CREATE INDEX t_interactions_0 ON t_interactions (contact_id, ts);
CREATE INDEX t_interactions_1 ON t_interactions (lead_id, ts);
CREATE INDEX t_interactions_2 ON t_interactions (opportunity_id, ts);
CREATE INDEX t_interactions_3 ON t_interactions (follow_up_status, follow_up_date);
CREATE INDEX t_interactions_4 ON t_interactions (message_id);
CREATE INDEX t_opportunities_0 ON t_opportunities (stage);
CREATE INDEX t_opportunities_1 ON t_opportunities (contact_id);
CREATE INDEX t_opportunities_2 ON t_opportunities (lead_id);
CREATE INDEX t_opportunities_3 ON t_opportunities (company_id);

-- what else lives in the data dir of a one-machine book: pending actions, the chat's seen
-- reports and the import log (one JSON object each, read and replaced whole under a row lock)...
CREATE TABLE state_docs (
    name text COLLATE "C" PRIMARY KEY,
    doc jsonb,  -- NULL until first saved (the row is there to be locked)
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- ...and the reports and emails produced for the owner, one row each
CREATE TABLE notifications (
    id text COLLATE "C" PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX notifications_kind ON notifications (kind);
