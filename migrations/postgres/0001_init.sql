-- gongshi schema, PostgreSQL. Instants are BIGINT microseconds since the Unix
-- epoch (UTC); calendar dates are ISO 'YYYY-MM-DD' TEXT in China Standard Time,
-- so both backends store the same values.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    role        TEXT NOT NULL,
    label       TEXT NOT NULL,
    credit_code TEXT,
    expires_on  TEXT,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
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
    version           BIGINT NOT NULL,
    doc               TEXT NOT NULL,
    meta              TEXT NOT NULL,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL,
    CONSTRAINT decision_number_per_authority UNIQUE (authority_code, decision_number)
);
CREATE INDEX penalty_decisions_party ON penalty_decisions (party_credit_code, id);
CREATE INDEX penalty_decisions_state ON penalty_decisions (state, id);
CREATE INDEX penalty_decisions_decided ON penalty_decisions (decided_on);

CREATE TABLE disclosures (
    id                 TEXT PRIMARY KEY,
    decision_id        TEXT NOT NULL UNIQUE REFERENCES penalty_decisions (id),
    state              TEXT NOT NULL,
    version            BIGINT NOT NULL,
    content            TEXT NOT NULL,
    content_sha256     TEXT NOT NULL,
    party_credit_code  TEXT NOT NULL,
    authority_code     TEXT NOT NULL,
    decided_on         TEXT NOT NULL,
    publicity_ends_on  TEXT NOT NULL,
    repair_eligible_on TEXT NOT NULL,
    repair_pending     BOOLEAN NOT NULL DEFAULT FALSE,
    published_at       BIGINT NOT NULL,
    terminated_at      BIGINT,
    termination_reason TEXT,
    update_time        BIGINT NOT NULL
);
CREATE INDEX disclosures_state ON disclosures (state, id);
CREATE INDEX disclosures_party ON disclosures (party_credit_code, id);
CREATE INDEX disclosures_expiry ON disclosures (publicity_ends_on) WHERE state = 'ACTIVE';

CREATE TABLE disclosure_versions (
    disclosure_id  TEXT NOT NULL REFERENCES disclosures (id),
    version        BIGINT NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (disclosure_id, version)
);

-- The change feed. Sequence numbers are allocated under an advisory lock held
-- until commit (see src/store/sql.rs), so they become visible in order.
CREATE TABLE disclosure_changes (
    sequence       BIGSERIAL PRIMARY KEY,
    disclosure_id  TEXT NOT NULL REFERENCES disclosures (id),
    kind           TEXT NOT NULL,
    reason         TEXT,
    version        BIGINT NOT NULL,
    content_sha256 TEXT NOT NULL,
    public_reason  TEXT,
    effective_time BIGINT NOT NULL
);

-- 全过程记录 (行政处罚法 Art. 47): append-only.
CREATE TABLE decision_events (
    id          BIGSERIAL PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES penalty_decisions (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    summary     TEXT NOT NULL,
    details     TEXT NOT NULL,
    hashes      TEXT NOT NULL
);
CREATE INDEX decision_events_decision ON decision_events (decision_id, id);

-- Nothing edits or deletes an event, a feed entry or a stored version.
CREATE FUNCTION gongshi_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER decision_events_append_only BEFORE UPDATE OR DELETE ON decision_events
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER decision_events_no_truncate BEFORE TRUNCATE ON decision_events
    FOR EACH STATEMENT EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER disclosure_changes_append_only BEFORE UPDATE OR DELETE ON disclosure_changes
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER disclosure_changes_no_truncate BEFORE TRUNCATE ON disclosure_changes
    FOR EACH STATEMENT EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER disclosure_versions_append_only BEFORE UPDATE OR DELETE ON disclosure_versions
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
