-- Served from bytes (issue 18): a stored encoding can never outlive the row
-- it encodes. The store writes `encoded` in the same statement as every
-- change of a disclosure; any other UPDATE (a migration's data fix, an
-- operator's SQL, the load generator) that changes a column the encoding
-- depends on without writing `encoded` clears it instead. Readers encode a
-- row without one from its columns (the decoded path's conversion), and
-- `migrate` / the server at start stores it again.
--
-- The columns are those `wire::DisclosureParts` (src/wire.rs) is made of,
-- and termination_reason; a field added to the served `Disclosure` must be
-- added here too.

CREATE FUNCTION disclosures_encoded_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.encoded IS NOT DISTINCT FROM OLD.encoded AND (
           NEW.id IS DISTINCT FROM OLD.id
        OR NEW.decision_id IS DISTINCT FROM OLD.decision_id
        OR NEW.state IS DISTINCT FROM OLD.state
        OR NEW.version IS DISTINCT FROM OLD.version
        OR NEW.content IS DISTINCT FROM OLD.content
        OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256
        OR NEW.repair_pending IS DISTINCT FROM OLD.repair_pending
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
        OR NEW.published_at_known IS DISTINCT FROM OLD.published_at_known
        OR NEW.terminated_at IS DISTINCT FROM OLD.terminated_at
        OR NEW.termination_reason IS DISTINCT FROM OLD.termination_reason) THEN
        NEW.encoded := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER disclosures_encoded_stale
    BEFORE UPDATE ON disclosures
    FOR EACH ROW EXECUTE FUNCTION disclosures_encoded_stale();
