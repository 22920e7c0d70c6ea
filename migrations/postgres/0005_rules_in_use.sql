-- Issue 14. A disclosure's publication date may be unknown: imported history
-- without a 公示日期 column. published_at then keeps when the record was
-- imported (the column stays NOT NULL) and this flag says it is not the date.
ALTER TABLE disclosures ADD COLUMN published_at_known BOOLEAN NOT NULL DEFAULT TRUE;
