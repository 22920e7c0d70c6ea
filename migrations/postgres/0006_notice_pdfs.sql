-- Notice documents as printed (PDF, GB/T 9704-2012 layout, src/render/):
-- rendered once per document of a bundle version, with the bundle, and kept
-- byte for byte, so the file a receiver is handed always matches the
-- pdf_sha256 its bundle states, whatever later releases of the renderer do.
CREATE TABLE notice_pdfs (
    decision_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    page_count  BIGINT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    renderer    TEXT NOT NULL,
    content     BYTEA NOT NULL,
    rendered_at BIGINT NOT NULL,
    PRIMARY KEY (decision_id, version, kind),
    FOREIGN KEY (decision_id, version) REFERENCES notice_bundles (decision_id, version)
);
CREATE TRIGGER notice_pdfs_append_only BEFORE UPDATE OR DELETE ON notice_pdfs
    FOR EACH ROW EXECUTE FUNCTION gongshi_append_only();
CREATE TRIGGER notice_pdfs_no_truncate BEFORE TRUNCATE ON notice_pdfs
    FOR EACH STATEMENT EXECUTE FUNCTION gongshi_append_only();
