-- gongshi schema, SQLite. Same tables and value encodings as PostgreSQL:
-- instants are INTEGER microseconds (UTC), dates ISO TEXT in CST.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    role        TEXT NOT NULL,
    label       TEXT NOT NULL,
    credit_code TEXT,
    expires_on  TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE penalty_decisions (
    id                TEXT PRIMARY KEY,
    authority_code    TEXT NOT NULL,
    decision_number   TEXT NOT NULL,
    request_key       TEXT UNIQUE,
    party_credit_code TEXT NOT NULL,
    state             TEXT NOT NULL,
    decided_on        TEXT NOT NULL,
    disclosure_id     TEXT,
    version           INTEGER NOT NULL,
    doc               TEXT NOT NULL,
    meta              TEXT NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    CONSTRAINT decision_number_per_authority UNIQUE (authority_code, decision_number)
);
CREATE INDEX penalty_decisions_party ON penalty_decisions (party_credit_code, id);
CREATE INDEX penalty_decisions_state ON penalty_decisions (state, id);
CREATE INDEX penalty_decisions_decided ON penalty_decisions (decided_on);

CREATE TABLE disclosures (
    id                 TEXT PRIMARY KEY,
    decision_id        TEXT NOT NULL UNIQUE REFERENCES penalty_decisions (id),
    state              TEXT NOT NULL,
    version            INTEGER NOT NULL,
    content            TEXT NOT NULL,
    content_sha256     TEXT NOT NULL,
    party_credit_code  TEXT NOT NULL,
    authority_code     TEXT NOT NULL,
    decided_on         TEXT NOT NULL,
    publicity_ends_on  TEXT NOT NULL,
    repair_eligible_on TEXT NOT NULL,
    repair_pending     BOOLEAN NOT NULL DEFAULT FALSE,
    published_at       INTEGER NOT NULL,
    terminated_at      INTEGER,
    termination_reason TEXT,
    update_time        INTEGER NOT NULL
);
CREATE INDEX disclosures_state ON disclosures (state, id);
CREATE INDEX disclosures_party ON disclosures (party_credit_code, id);
CREATE INDEX disclosures_expiry ON disclosures (publicity_ends_on) WHERE state = 'ACTIVE';

CREATE TABLE disclosure_versions (
    disclosure_id  TEXT NOT NULL REFERENCES disclosures (id),
    version        INTEGER NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (disclosure_id, version)
);

-- One writer at a time: sequence order is commit order. AUTOINCREMENT never
-- reuses a number.
CREATE TABLE disclosure_changes (
    sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
    disclosure_id  TEXT NOT NULL REFERENCES disclosures (id),
    kind           TEXT NOT NULL,
    reason         TEXT,
    version        INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    public_reason  TEXT,
    effective_time INTEGER NOT NULL
);

CREATE TABLE decision_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id TEXT NOT NULL REFERENCES penalty_decisions (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    summary     TEXT NOT NULL,
    details     TEXT NOT NULL,
    hashes      TEXT NOT NULL
);
CREATE INDEX decision_events_decision ON decision_events (decision_id, id);

CREATE TRIGGER decision_events_no_update BEFORE UPDATE ON decision_events
BEGIN SELECT RAISE(ABORT, 'table decision_events is append-only'); END;
CREATE TRIGGER decision_events_no_delete BEFORE DELETE ON decision_events
BEGIN SELECT RAISE(ABORT, 'table decision_events is append-only'); END;
CREATE TRIGGER disclosure_changes_no_update BEFORE UPDATE ON disclosure_changes
BEGIN SELECT RAISE(ABORT, 'table disclosure_changes is append-only'); END;
CREATE TRIGGER disclosure_changes_no_delete BEFORE DELETE ON disclosure_changes
BEGIN SELECT RAISE(ABORT, 'table disclosure_changes is append-only'); END;
CREATE TRIGGER disclosure_versions_no_update BEFORE UPDATE ON disclosure_versions
BEGIN SELECT RAISE(ABORT, 'table disclosure_versions is append-only'); END;
CREATE TRIGGER disclosure_versions_no_delete BEFORE DELETE ON disclosure_versions
BEGIN SELECT RAISE(ABORT, 'table disclosure_versions is append-only'); END;
