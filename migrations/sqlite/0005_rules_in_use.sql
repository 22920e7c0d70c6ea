-- Issue 14. A disclosure's publication date may be unknown: imported history
-- without a 公示日期 column. published_at then keeps when the record was
-- imported (the column stays NOT NULL) and this flag says it is not the date.
ALTER TABLE disclosures ADD COLUMN published_at_known BOOLEAN NOT NULL DEFAULT TRUE;

-- Data: repair applications left open by a disclosure that ended before
-- 修复终止 existed are closed now, as the act that ended it would close them
-- today: state CLOSED, the cause (from the disclosure's termination reason)
-- as the transition's reason, by the server; repair_pending cleared.
INSERT INTO repair_events (application_id, actor, at, from_state, to_state, reason)
SELECT a.id,
       '{"key_id":"system","label":"migration 0005","role":"SYSTEM","on_behalf_of":null}',
       CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
       a.state,
       'CLOSED',
       CASE d.termination_reason
           WHEN 'EXPIRED' THEN 'DISCLOSURE_EXPIRED'
           WHEN 'WITHDRAWN' THEN 'DISCLOSURE_WITHDRAWN'
           ELSE 'DISCLOSURE_REPAIRED'
       END
FROM repair_applications a
JOIN disclosures d ON d.id = a.disclosure_id
WHERE a.state IN ('SUBMITTED', 'ACCEPTED', 'SUPPLEMENT_REQUESTED') AND d.state <> 'ACTIVE'
ORDER BY a.id;

UPDATE repair_applications
SET state = 'CLOSED',
    open_disclosure_id = NULL,
    version = version + 1,
    update_time = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
    doc = json_set(doc, '$.last_reason', (
        SELECT CASE d.termination_reason
                   WHEN 'EXPIRED' THEN 'DISCLOSURE_EXPIRED'
                   WHEN 'WITHDRAWN' THEN 'DISCLOSURE_WITHDRAWN'
                   ELSE 'DISCLOSURE_REPAIRED'
               END
        FROM disclosures d WHERE d.id = repair_applications.disclosure_id))
WHERE state IN ('SUBMITTED', 'ACCEPTED', 'SUPPLEMENT_REQUESTED')
  AND disclosure_id IN (SELECT id FROM disclosures WHERE state <> 'ACTIVE');

UPDATE disclosures SET repair_pending = FALSE WHERE repair_pending AND state <> 'ACTIVE';
