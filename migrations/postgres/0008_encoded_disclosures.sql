-- Served from bytes (issue 18): each disclosure's `Disclosure` protobuf
-- encoding (src/wire.rs), written by the store in the same transaction as
-- every write of the disclosure (publish, correct, repair flag, termination),
-- so a reader is served exactly these bytes. Rows written before this
-- migration are filled by `migrate` / the server at start, in batches (the
-- partial index finds them).

ALTER TABLE disclosures ADD COLUMN encoded BYTEA;

CREATE INDEX disclosures_unencoded ON disclosures (id) WHERE encoded IS NULL;
