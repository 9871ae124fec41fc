-- Qualification, class, score, sources and spend (issue 17): the columns and tables spec.SPEC
-- declares for them. A book made before this level has none of the new fields in its documents
-- except an interaction's outcome, which is filled here; the rest start empty as they would on files.

ALTER TABLE t_leads ADD COLUMN effort_class text COLLATE "C";
ALTER TABLE t_leads ADD COLUMN score numeric;
ALTER TABLE t_leads ADD COLUMN source_key text COLLATE "C";
UPDATE t_leads SET effort_class = doc->>'effort_class', score = (doc->>'score')::numeric
    WHERE doc ? 'effort_class' OR doc ? 'score';

ALTER TABLE t_interactions ADD COLUMN outcome text COLLATE "C";
UPDATE t_interactions SET outcome = doc->>'outcome' WHERE doc ? 'outcome';

ALTER TABLE t_opportunities ADD COLUMN effort_class text COLLATE "C";
UPDATE t_opportunities SET effort_class = doc->>'effort_class' WHERE doc ? 'effort_class';

CREATE TABLE t_qualifications (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    lead_id text COLLATE "C",
    status text COLLATE "C",
    outcome text COLLATE "C"
);
CREATE TABLE t_source_spend (
    key bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    month text COLLATE "C",
    source_key text COLLATE "C"
);
CREATE INDEX t_qualifications_0 ON t_qualifications (lead_id);
CREATE INDEX t_source_spend_0 ON t_source_spend (source_key, month);
CREATE INDEX t_source_spend_1 ON t_source_spend (month);
