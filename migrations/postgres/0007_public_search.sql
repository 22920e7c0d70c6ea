-- The public search (issue 16): party names of active disclosures indexed by
-- their character bigrams (src/domain/search.rs). The store keeps it in the
-- same transaction as every write of a disclosure: `search_name` holds the
-- normalised party name while the disclosure is ACTIVE and is NULL
-- otherwise, and `disclosure_grams` holds that name's bigrams, so a
-- terminated record is never found. Rows published before this migration are
-- indexed by the server at start (the partial index finds them).

ALTER TABLE disclosures ADD COLUMN search_name TEXT;

CREATE TABLE disclosure_grams (
    gram          TEXT NOT NULL,
    disclosure_id TEXT NOT NULL REFERENCES disclosures (id),
    PRIMARY KEY (gram, disclosure_id)
);

-- A disclosure's bigrams, to replace them when its name or state changes.
CREATE INDEX disclosure_grams_disclosure ON disclosure_grams (disclosure_id);

CREATE INDEX disclosures_unindexed ON disclosures (id) WHERE search_name IS NULL AND state = 'ACTIVE';

-- One disclosure's changes (the public page's corrections, the removal a
-- 410 Gone answer names).
CREATE INDEX disclosure_changes_disclosure ON disclosure_changes (disclosure_id, sequence);
