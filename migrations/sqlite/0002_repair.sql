-- Credit repair (信用修复).

CREATE TABLE repair_applications (
    id                 TEXT PRIMARY KEY,
    disclosure_id      TEXT NOT NULL REFERENCES disclosures (id),
    applicant_code     TEXT NOT NULL,
    state              TEXT NOT NULL,
    receipt_code       TEXT NOT NULL UNIQUE,
    request_key        TEXT UNIQUE,
    open_disclosure_id TEXT UNIQUE,
    accept_due_on      TEXT,
    decide_due_on      TEXT,
    overall_due_on     TEXT,
    doc                TEXT NOT NULL,
    version            INTEGER NOT NULL,
    create_time        INTEGER NOT NULL,
    update_time        INTEGER NOT NULL
);
CREATE INDEX repair_applications_applicant ON repair_applications (applicant_code, id);
CREATE INDEX repair_applications_state ON repair_applications (state, id);
CREATE INDEX repair_applications_disclosure ON repair_applications (disclosure_id);

CREATE TABLE repair_materials (
    application_id TEXT NOT NULL REFERENCES repair_applications (id),
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL,
    content        BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (application_id, seq)
);

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
    created_at         INTEGER NOT NULL
);

CREATE TABLE repair_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id TEXT NOT NULL REFERENCES repair_applications (id),
    actor          TEXT NOT NULL,
    at             INTEGER NOT NULL,
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE INDEX repair_events_application ON repair_events (application_id, id);
CREATE TRIGGER repair_events_no_update BEFORE UPDATE ON repair_events
BEGIN SELECT RAISE(ABORT, 'table repair_events is append-only'); END;
CREATE TRIGGER repair_events_no_delete BEFORE DELETE ON repair_events
BEGIN SELECT RAISE(ABORT, 'table repair_events is append-only'); END;
CREATE TRIGGER repair_materials_no_update BEFORE UPDATE ON repair_materials
BEGIN SELECT RAISE(ABORT, 'table repair_materials is append-only'); END;
CREATE TRIGGER repair_materials_no_delete BEFORE DELETE ON repair_materials
BEGIN SELECT RAISE(ABORT, 'table repair_materials is append-only'); END;
