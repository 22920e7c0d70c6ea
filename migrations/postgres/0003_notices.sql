-- Notice bundles (两书/三书同达). Rendered documents are stored once and never
-- changed; a corrected decision gets a new bundle version.
CREATE TABLE notice_bundles (
    decision_id       TEXT NOT NULL REFERENCES penalty_decisions (id),
    version           BIGINT NOT NULL,
    is_latest         BOOLEAN NOT NULL,
    context_sha256    TEXT NOT NULL,
    party_credit_code TEXT NOT NULL,
    documents         TEXT NOT NULL,
    rendered_at       BIGINT NOT NULL,
    delivery_state    TEXT NOT NULL,
    delivery          TEXT,
    row_version       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL,
    PRIMARY KEY (decision_id, version)
);
CREATE INDEX notice_bundles_latest ON notice_bundles (decision_id) WHERE is_latest;
CREATE INDEX notice_bundles_party ON notice_bundles (party_credit_code, decision_id);

CREATE FUNCTION gongshi_documents_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.documents IS DISTINCT FROM NEW.documents OR OLD.rendered_at IS DISTINCT FROM NEW.rendered_at THEN
        RAISE EXCEPTION 'rendered documents cannot be changed' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER notice_bundles_documents_immutable BEFORE UPDATE ON notice_bundles
    FOR EACH ROW EXECUTE FUNCTION gongshi_documents_immutable();
CREATE TRIGGER notice_bundles_no_delete BEFORE DELETE ON notice_bundles
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
