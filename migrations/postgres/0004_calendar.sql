-- The working-day calendar's official years (DOMAIN.md §8), kept where every
-- instance reads them. Seeded from data/cn-holidays.csv by the first start
-- after this migration (recorded in calendar_loads); later years are loaded
-- with `gongshi calendar load`.

-- One row: its version is bumped by every load that changes a year, so an
-- instance sees with one read whether its copy is current, and a repair
-- transaction holds it shared while it computes due dates.
CREATE TABLE calendar_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO calendar_state (id, version) VALUES (1, 0);

CREATE TABLE calendar_years (
    year      INTEGER PRIMARY KEY,
    loaded_at BIGINT NOT NULL,
    loaded_by TEXT NOT NULL,
    source    TEXT NOT NULL,
    sha256    TEXT NOT NULL
);

CREATE TABLE calendar_days (
    year INTEGER NOT NULL REFERENCES calendar_years (year),
    day  TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (year, day)
);

-- Every load, kept for ever: who, when, which file (SHA-256), what changed.
CREATE TABLE calendar_loads (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    loaded_by TEXT NOT NULL,
    source    TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    years     TEXT NOT NULL,
    replaced  TEXT NOT NULL,
    version   BIGINT NOT NULL
);
