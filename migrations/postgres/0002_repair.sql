-- Credit repair (信用修复).

CREATE TABLE repair_applications (
    id                 TEXT PRIMARY KEY,
    disclosure_id      TEXT NOT NULL REFERENCES disclosures (id),
    applicant_code     TEXT NOT NULL,
    state              TEXT NOT NULL,
    receipt_code       TEXT NOT NULL UNIQUE,
    request_key        TEXT UNIQUE,
    -- Equals disclosure_id while the application is open, NULL otherwise: at
    -- most one open application per disclosure, enforced by the database.
    open_disclosure_id TEXT UNIQUE,
    accept_due_on      TEXT,
    decide_due_on      TEXT,
    overall_due_on     TEXT,
    doc                TEXT NOT NULL,
    version            BIGINT NOT NULL,
    create_time        BIGINT NOT NULL,
    update_time        BIGINT NOT NULL
);
CREATE INDEX repair_applications_applicant ON repair_applications (applicant_code, id);
CREATE INDEX repair_applications_state ON repair_applications (state, id);
CREATE INDEX repair_applications_disclosure ON repair_applications (disclosure_id);

CREATE TABLE repair_materials (
    application_id TEXT NOT NULL REFERENCES repair_applications (id),
    seq            BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    content        BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (application_id, seq)
);

-- 信用承诺 as its own record (national credit-commitment standard).
CREATE TABLE credit_commitments (
    code               TEXT PRIMARY KEY,
    application_id     TEXT NOT NULL REFERENCES repair_applications (id),
    committer_name     TEXT NOT NULL,
    committer_code     TEXT NOT NULL,
    commitment_type    TEXT NOT NULL,
    reason             TEXT NOT NULL,
    content            TEXT NOT NULL,
    liability          TEXT NOT NULL,
    made_on            TEXT NOT NULL,
    signer             TEXT NOT NULL,
    fulfillment_status TEXT NOT NULL,
    created_at         BIGINT NOT NULL
);

CREATE TABLE repair_events (
    id             BIGSERIAL PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES repair_applications (id),
    actor          TEXT NOT NULL,
    at             BIGINT NOT NULL,
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE INDEX repair_events_application ON repair_events (application_id, id);
CREATE TRIGGER repair_events_append_only BEFORE UPDATE OR DELETE ON repair_events
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER repair_materials_append_only BEFORE UPDATE OR DELETE ON repair_materials
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
