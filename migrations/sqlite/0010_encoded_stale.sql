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
-- added here too. The trigger's own UPDATE changes none of them, so it does
-- not fire again (and SQLite's recursive_triggers is off, its default, which
-- the server keeps).

CREATE TRIGGER disclosures_encoded_stale
AFTER UPDATE ON disclosures
FOR EACH ROW
WHEN NEW.encoded IS OLD.encoded AND NEW.encoded IS NOT NULL AND (
       NEW.id IS NOT OLD.id
    OR NEW.decision_id IS NOT OLD.decision_id
    OR NEW.state IS NOT OLD.state
    OR NEW.version IS NOT OLD.version
    OR NEW.content IS NOT OLD.content
    OR NEW.content_sha256 IS NOT OLD.content_sha256
    OR NEW.repair_pending IS NOT OLD.repair_pending
    OR NEW.published_at IS NOT OLD.published_at
    OR NEW.published_at_known IS NOT OLD.published_at_known
    OR NEW.terminated_at IS NOT OLD.terminated_at
    OR NEW.termination_reason IS NOT OLD.termination_reason)
BEGIN
    UPDATE disclosures SET encoded = NULL WHERE id = NEW.id;
END;
