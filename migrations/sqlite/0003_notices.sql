-- Notice bundles (两书/三书同达).
CREATE TABLE notice_bundles (
    decision_id       TEXT NOT NULL REFERENCES penalty_decisions (id),
    version           INTEGER NOT NULL,
    is_latest         BOOLEAN NOT NULL,
    context_sha256    TEXT NOT NULL,
    party_credit_code TEXT NOT NULL,
    documents         TEXT NOT NULL,
    rendered_at       INTEGER NOT NULL,
    delivery_state    TEXT NOT NULL,
    delivery          TEXT,
    row_version       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    PRIMARY KEY (decision_id, version)
);
CREATE INDEX notice_bundles_latest ON notice_bundles (decision_id) WHERE is_latest;
CREATE INDEX notice_bundles_party ON notice_bundles (party_credit_code, decision_id);
CREATE TRIGGER notice_bundles_documents_immutable BEFORE UPDATE OF documents, rendered_at ON notice_bundles
BEGIN SELECT RAISE(ABORT, 'rendered documents cannot be changed'); END;
CREATE TRIGGER notice_bundles_no_delete BEFORE DELETE ON notice_bundles
BEGIN SELECT RAISE(ABORT, 'table notice_bundles is append-only'); END;
