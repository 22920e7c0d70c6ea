-- Issue 15: who revoked an API key, when and why. Append-only, like the
-- 全过程记录 of decisions; written in the transaction that revokes the key.
CREATE TABLE key_events (
    id      BIGSERIAL PRIMARY KEY,
    key_id  TEXT NOT NULL REFERENCES api_keys (id),
    kind    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    by_whom TEXT NOT NULL,
    reason  TEXT NOT NULL
);
CREATE INDEX key_events_key ON key_events (key_id, id);

CREATE TRIGGER key_events_append_only BEFORE UPDATE OR DELETE ON key_events
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER key_events_no_truncate BEFORE TRUNCATE ON key_events
    FOR EACH STATEMENT EXECUTE FUNCTION gongshi_append_only();
