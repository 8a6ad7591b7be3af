-- The one schema of the kalshi_assets warehouse (DuckDB).
-- Every time column is TIMESTAMP holding UTC. Prices are DECIMAL dollars (Kalshi quotes up to 4 decimals),
-- counts DECIMAL(18, 2) (Kalshi's fixed-point `_fp` counts). Every statement is idempotent.

-- ============================== ingest ==============================

CREATE TABLE IF NOT EXISTS kalshi_series (
    series_ticker      VARCHAR PRIMARY KEY,
    event_type         VARCHAR,            -- CPI, FOMC, UNEMPLOYMENT, GDP, PAYROLLS (settings.SERIES_EVENT_TYPES)
    title              VARCHAR,
    category           VARCHAR,
    frequency          VARCHAR,
    fee_type           VARCHAR,
    fee_multiplier     DOUBLE,
    settlement_sources VARCHAR,            -- JSON array of {name, url}
    ingested_at        TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS kalshi_events (
    event_ticker       VARCHAR PRIMARY KEY,
    series_ticker      VARCHAR NOT NULL,
    event_type         VARCHAR,
    title              VARCHAR,
    sub_title          VARCHAR,
    mutually_exclusive BOOLEAN,
    strike_date        TIMESTAMP,          -- the release instant when Kalshi gives it
    strike_period      VARCHAR,
    ingested_at        TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS kalshi_markets (
    market_ticker            VARCHAR PRIMARY KEY,
    event_ticker             VARCHAR NOT NULL,  -- exact tie to kalshi_events; never by prefix or title
    market_type              VARCHAR,
    status                   VARCHAR,
    strike_type              VARCHAR,
    floor_strike             DOUBLE,
    cap_strike               DOUBLE,
    yes_sub_title            VARCHAR,
    open_time                TIMESTAMP,
    close_time               TIMESTAMP,
    expected_expiration_time TIMESTAMP,
    latest_expiration_time   TIMESTAMP,
    yes_bid                  DECIMAL(10, 4),
    yes_ask                  DECIMAL(10, 4),
    last_price               DECIMAL(10, 4),
    volume                   DECIMAL(18, 2),
    open_interest            DECIMAL(18, 2),
    result                   VARCHAR,           -- yes, no, scalar, or NULL while unsettled
    expiration_value         VARCHAR,           -- as Kalshi publishes it (a number as text, or empty)
    expiration_value_num     DOUBLE,            -- parsed when numeric
    settlement_value         DECIMAL(10, 4),
    settlement_ts            TIMESTAMP,
    updated_time             TIMESTAMP,
    ingested_at              TIMESTAMP NOT NULL
);

-- Hourly quotes from candlesticks; `ts` is the candle's end_period_ts. Partitioned by day of `ts`.
CREATE TABLE IF NOT EXISTS kalshi_quotes (
    market_ticker  VARCHAR NOT NULL,
    event_ticker   VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    yes_bid        DECIMAL(10, 4),     -- close of the hour; NULL when the book had no bid
    yes_ask        DECIMAL(10, 4),     -- close of the hour; NULL when the book had no ask
    last_price     DECIMAL(10, 4),     -- last trade inside the hour; NULL when nothing traded
    volume         DECIMAL(18, 2) NOT NULL,
    open_interest  DECIMAL(18, 2) NOT NULL,
    PRIMARY KEY (market_ticker, ts)
);

-- When each event's value is released: Kalshi's strike_date, else the ladder's earliest close.
CREATE OR REPLACE VIEW event_release AS
SELECT e.event_ticker,
       e.series_ticker,
       e.event_type,
       COALESCE(e.strike_date, MIN(m.close_time)) AS release_time,
       MIN(m.open_time) AS open_time
FROM kalshi_events e
LEFT JOIN kalshi_markets m ON m.event_ticker = e.event_ticker
GROUP BY e.event_ticker, e.series_ticker, e.event_type, e.strike_date;

-- ============================== outcomes ==============================
-- What each release printed and when. Three rules (DESIGN.md, METHODS.md section 2):
--   outcomes_first_print is written once per event and never changed (insert if absent);
--   outcomes_revisions appends every vintage (a replay inserts nothing new);
--   writing one never writes the other.

-- The hash of a first print's printed fields: stored at insert time in row_hash, recomputed by checks.
CREATE OR REPLACE MACRO first_print_hash(event_ticker, value, release_time, source) AS
    md5(concat_ws('|', event_ticker, CAST(value AS VARCHAR),
                  strftime(release_time, '%Y-%m-%dT%H:%M:%S.%f'), source));

-- The first print a strategy is paid on: one row per event. `row_hash` is taken at insert time over
-- the printed fields, so a later UPDATE by anything shows up in the `first_print_unchanged` check.
CREATE TABLE IF NOT EXISTS outcomes_first_print (
    event_ticker     VARCHAR PRIMARY KEY,
    series_ticker    VARCHAR,
    reference_period DATE,
    value            DOUBLE NOT NULL,
    release_time     TIMESTAMP NOT NULL,   -- when the value became known
    source           VARCHAR NOT NULL,     -- demo, alfred, kalshi (settlement)
    recorded_at      TIMESTAMP NOT NULL,   -- when this warehouse stored it
    row_hash         VARCHAR NOT NULL
);

-- What each source reported as an event's first print. A source that disagrees with the stored first
-- print is recorded here (the stored value stays); a NULL in a later report never erases a known field.
CREATE TABLE IF NOT EXISTS outcomes_first_print_reports (
    event_ticker  VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    value         DOUBLE,
    release_time  TIMESTAMP,
    settlement_ts TIMESTAMP,             -- Kalshi's settlement time, for the kalshi source
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, source)
);

-- Reports that disagree with the stored first print (the tolerance matches analytics.outcomes).
CREATE OR REPLACE VIEW outcomes_first_print_conflicts AS
SELECT r.event_ticker, r.source, r.value AS reported_value, f.value AS stored_value,
       f.source AS stored_source, r.first_seen_at, r.last_seen_at
FROM outcomes_first_print_reports r
JOIN outcomes_first_print f USING (event_ticker)
WHERE r.value IS NOT NULL AND abs(r.value - f.value) > 1e-9;

-- Every vintage: (event, vintage time, source) is the key, so replaying a source appends nothing.
CREATE TABLE IF NOT EXISTS outcomes_revisions (
    event_ticker     VARCHAR NOT NULL,
    vintage_time     TIMESTAMP NOT NULL,   -- when this value became known
    source           VARCHAR NOT NULL,
    series_ticker    VARCHAR,
    reference_period DATE,
    vintage          INTEGER NOT NULL,     -- 1 = first print; a parsed number, never a label string
    value            DOUBLE NOT NULL,
    recorded_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, vintage_time, source)
);

-- The latest vintage of each event: ordered by time, then vintage number, then source (the same order
-- as analytics.outcomes.order_vintages).
CREATE OR REPLACE VIEW outcomes_latest AS
SELECT event_ticker, series_ticker, reference_period, value, vintage_time, vintage, source
FROM outcomes_revisions
QUALIFY row_number() OVER (PARTITION BY event_ticker ORDER BY vintage_time DESC, vintage DESC, source DESC) = 1;

-- Labels as known at `as_of`: the realized value per mode, when it became known, and the surprise
-- against the market-implied distribution (NULL when no distribution exists).
CREATE TABLE IF NOT EXISTS event_labels (
    event_ticker        VARCHAR NOT NULL,
    label_mode          VARCHAR NOT NULL CHECK (label_mode IN ('first_print', 'latest')),
    as_of               TIMESTAMP NOT NULL,
    realized_value      DOUBLE NOT NULL,
    label_known_at      TIMESTAMP NOT NULL,   -- release time (first_print) or vintage time (latest)
    source              VARCHAR NOT NULL,
    vintage             INTEGER,
    implied_snapshot_ts TIMESTAMP,            -- the last snapshot before the release
    implied_mean        DOUBLE,
    implied_sd          DOUBLE,
    surprise            DOUBLE,               -- realized - implied mean
    surprise_z          DOUBLE,               -- surprise / implied sd
    PRIMARY KEY (event_ticker, label_mode)
);
