-- Notice documents as printed (PDF, GB/T 9704-2012 layout, src/render/):
-- rendered once per document of a bundle version, with the bundle, and kept
-- byte for byte, so the file a receiver is handed always matches the
-- pdf_sha256 its bundle states, whatever later releases of the renderer do.
CREATE TABLE notice_pdfs (
    decision_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    page_count  INTEGER NOT NULL,
    size_bytes  INTEGER NOT NULL,
    renderer    TEXT NOT NULL,
    content     BLOB NOT NULL,
    rendered_at INTEGER NOT NULL,
    PRIMARY KEY (decision_id, version, kind),
    FOREIGN KEY (decision_id, version) REFERENCES notice_bundles (decision_id, version)
);
CREATE TRIGGER notice_pdfs_immutable BEFORE UPDATE ON notice_pdfs
BEGIN SELECT RAISE(ABORT, 'rendered documents cannot be changed'); END;
CREATE TRIGGER notice_pdfs_no_delete BEFORE DELETE ON notice_pdfs
BEGIN SELECT RAISE(ABORT, 'table notice_pdfs is append-only'); END;
