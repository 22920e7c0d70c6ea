-- Issue 15: who revoked an API key, when and why. Append-only, like the
-- 全过程记录 of decisions; written in the transaction that revokes the key.
CREATE TABLE key_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id  TEXT NOT NULL REFERENCES api_keys (id),
    kind    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    by_whom TEXT NOT NULL,
    reason  TEXT NOT NULL
);
CREATE INDEX key_events_key ON key_events (key_id, id);

CREATE TRIGGER key_events_no_update BEFORE UPDATE ON key_events
BEGIN SELECT RAISE(ABORT, 'table key_events is append-only'); END;
CREATE TRIGGER key_events_no_delete BEFORE DELETE ON key_events
BEGIN SELECT RAISE(ABORT, 'table key_events is append-only'); END;
