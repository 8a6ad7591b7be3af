-- The one schema of the kalshi_assets warehouse (DuckDB).
-- Every time column is TIMESTAMP holding UTC. Prices are DECIMAL dollars (Kalshi quotes up to 4 decimals),
-- counts DECIMAL(18, 2) (Kalshi's fixed-point `_fp` counts). Every statement is idempotent.
-- Every column has a COMMENT ON COLUMN, right after its table: the description the Dagster UI shows
-- (warehouse/db.apply_schema writes a comment only where the catalogue's differs).
-- A PRIMARY KEY line ending in "-- key checked on write, not indexed" declares the key of a big table written
-- a partition window at a time: warehouse/writes.py checks it on every write (within the incoming rows and
-- against the stored ones), and the DuckDB file keeps it without an index, as the lake keeps every key. The
-- index made each commit of these tables several times slower (benchmarks/bench_pipeline.py, issue 16).

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
COMMENT ON COLUMN kalshi_series.series_ticker IS 'Kalshi series ticker (KXCPI, KXFED, ...); a demo replica is <base>R<n>';
COMMENT ON COLUMN kalshi_series.event_type IS 'CPI, FOMC, UNEMPLOYMENT, GDP or PAYROLLS (settings.SERIES_EVENT_TYPES)';
COMMENT ON COLUMN kalshi_series.title IS 'Series title as Kalshi publishes it';
COMMENT ON COLUMN kalshi_series.category IS 'Kalshi category of the series (Economics)';
COMMENT ON COLUMN kalshi_series.frequency IS 'How often the series has an event (monthly, quarterly, per meeting)';
COMMENT ON COLUMN kalshi_series.fee_type IS 'Kalshi fee schedule of the series (quadratic, ...)';
COMMENT ON COLUMN kalshi_series.fee_multiplier IS 'Multiplier of the taker fee formula for this series';
COMMENT ON COLUMN kalshi_series.settlement_sources IS 'JSON array of {name, url}: where Kalshi reads the settling value';
COMMENT ON COLUMN kalshi_series.ingested_at IS 'UTC time this row was written';

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
COMMENT ON COLUMN kalshi_events.event_ticker IS 'Kalshi event ticker (KXCPI-26SEP): one release of one series';
COMMENT ON COLUMN kalshi_events.series_ticker IS 'The series the event belongs to (kalshi_series)';
COMMENT ON COLUMN kalshi_events.event_type IS 'CPI, FOMC, UNEMPLOYMENT, GDP or PAYROLLS';
COMMENT ON COLUMN kalshi_events.title IS 'Event title as Kalshi publishes it';
COMMENT ON COLUMN kalshi_events.sub_title IS 'Event sub-title (the reference period)';
COMMENT ON COLUMN kalshi_events.mutually_exclusive IS 'True when the markets are disjoint bins (one settles YES), false for a ladder of thresholds';
COMMENT ON COLUMN kalshi_events.strike_date IS 'UTC release instant when Kalshi gives it';
COMMENT ON COLUMN kalshi_events.strike_period IS 'Kalshi''s strike period label, when given';
COMMENT ON COLUMN kalshi_events.ingested_at IS 'UTC time this row was written';

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
COMMENT ON COLUMN kalshi_markets.market_ticker IS 'Kalshi market ticker: one contract of an event''s ladder';
COMMENT ON COLUMN kalshi_markets.event_ticker IS 'The event of the market (exact tie to kalshi_events, never by prefix)';
COMMENT ON COLUMN kalshi_markets.market_type IS 'binary or scalar';
COMMENT ON COLUMN kalshi_markets.status IS 'Kalshi market status (active, closed, settled, ...)';
COMMENT ON COLUMN kalshi_markets.strike_type IS 'greater, greater_or_equal, less, less_or_equal, between, ...: how the strikes define YES';
COMMENT ON COLUMN kalshi_markets.floor_strike IS 'Lower strike, in the event''s value units (NULL for an open lower tail)';
COMMENT ON COLUMN kalshi_markets.cap_strike IS 'Upper strike, in the event''s value units (NULL for an open upper tail)';
COMMENT ON COLUMN kalshi_markets.yes_sub_title IS 'What YES means, as Kalshi words it';
COMMENT ON COLUMN kalshi_markets.open_time IS 'UTC time trading opened';
COMMENT ON COLUMN kalshi_markets.close_time IS 'UTC time trading closed (or closes)';
COMMENT ON COLUMN kalshi_markets.expected_expiration_time IS 'UTC time Kalshi expects to settle';
COMMENT ON COLUMN kalshi_markets.latest_expiration_time IS 'Latest UTC time Kalshi may settle';
COMMENT ON COLUMN kalshi_markets.yes_bid IS 'Best YES bid at ingestion, dollars per contract (0-1)';
COMMENT ON COLUMN kalshi_markets.yes_ask IS 'Best YES ask at ingestion, dollars per contract (0-1)';
COMMENT ON COLUMN kalshi_markets.last_price IS 'Last traded YES price at ingestion, dollars per contract (0-1)';
COMMENT ON COLUMN kalshi_markets.volume IS 'Contracts traded over the market''s life';
COMMENT ON COLUMN kalshi_markets.open_interest IS 'Contracts open at ingestion';
COMMENT ON COLUMN kalshi_markets.result IS 'yes, no, scalar, or NULL while unsettled';
COMMENT ON COLUMN kalshi_markets.expiration_value IS 'The settling value as Kalshi publishes it (text)';
COMMENT ON COLUMN kalshi_markets.expiration_value_num IS 'expiration_value parsed as a number, when numeric';
COMMENT ON COLUMN kalshi_markets.settlement_value IS 'Payout of a YES contract at settlement, dollars';
COMMENT ON COLUMN kalshi_markets.settlement_ts IS 'UTC time the market settled';
COMMENT ON COLUMN kalshi_markets.updated_time IS 'UTC time Kalshi last updated the market';
COMMENT ON COLUMN kalshi_markets.ingested_at IS 'UTC time this row was written';

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
    PRIMARY KEY (market_ticker, ts)  -- key checked on write, not indexed
);
COMMENT ON COLUMN kalshi_quotes.market_ticker IS 'The market quoted';
COMMENT ON COLUMN kalshi_quotes.event_ticker IS 'The market''s event';
COMMENT ON COLUMN kalshi_quotes.ts IS 'UTC end of the hourly candle (the daily partition is the day of ts)';
COMMENT ON COLUMN kalshi_quotes.yes_bid IS 'YES bid at the close of the hour, dollars per contract (0-1); NULL: no bid';
COMMENT ON COLUMN kalshi_quotes.yes_ask IS 'YES ask at the close of the hour, dollars per contract (0-1); NULL: no ask';
COMMENT ON COLUMN kalshi_quotes.last_price IS 'Last YES trade inside the hour, dollars per contract (0-1); NULL: no trade';
COMMENT ON COLUMN kalshi_quotes.volume IS 'Contracts traded in the hour';
COMMENT ON COLUMN kalshi_quotes.open_interest IS 'Contracts open at the end of the hour';

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
-- What each release printed and when. Three rules (docs/ARCHITECTURE.md section 4.3, docs/METHODS.md section 2):
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
COMMENT ON COLUMN outcomes_first_print.event_ticker IS 'The event whose value was released';
COMMENT ON COLUMN outcomes_first_print.series_ticker IS 'The event''s series';
COMMENT ON COLUMN outcomes_first_print.reference_period IS 'First day of the period the value describes';
COMMENT ON COLUMN outcomes_first_print.value IS 'The first printed value, in the event''s value units (percent, jobs or basis points by series); never changed once stored';
COMMENT ON COLUMN outcomes_first_print.release_time IS 'UTC time the value became known';
COMMENT ON COLUMN outcomes_first_print.source IS 'Where the value came from: demo, alfred, kalshi (settlement)';
COMMENT ON COLUMN outcomes_first_print.recorded_at IS 'UTC time this warehouse stored it';
COMMENT ON COLUMN outcomes_first_print.row_hash IS 'md5 of the printed fields at insert time (the first_print_unchanged check recomputes it)';

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
COMMENT ON COLUMN outcomes_first_print_reports.event_ticker IS 'The event reported on';
COMMENT ON COLUMN outcomes_first_print_reports.source IS 'The reporting source (demo, alfred, kalshi)';
COMMENT ON COLUMN outcomes_first_print_reports.value IS 'The first print as this source reports it, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN outcomes_first_print_reports.release_time IS 'UTC release time as this source reports it';
COMMENT ON COLUMN outcomes_first_print_reports.settlement_ts IS 'Kalshi''s settlement time (kalshi source only)';
COMMENT ON COLUMN outcomes_first_print_reports.first_seen_at IS 'UTC time the report was first stored';
COMMENT ON COLUMN outcomes_first_print_reports.last_seen_at IS 'UTC time the report was last seen';

-- Reports that disagree with the stored first print (the tolerance matches analytics.outcomes).
CREATE OR REPLACE VIEW outcomes_first_print_conflicts AS
SELECT r.event_ticker, r.source, r.value AS reported_value, f.value AS stored_value,
       f.source AS stored_source, r.first_seen_at, r.last_seen_at
FROM outcomes_first_print_reports r
JOIN outcomes_first_print f USING (event_ticker)
WHERE r.value IS NOT NULL AND abs(r.value - f.value) > 1e-9;

-- The hash of a vintage's printed fields: stored at insert time in row_hash, recomputed by checks.
CREATE OR REPLACE MACRO revision_hash(event_ticker, vintage_time, source, vintage, value) AS
    md5(concat_ws('|', event_ticker, strftime(vintage_time, '%Y-%m-%dT%H:%M:%S.%f'), source,
                  CAST(vintage AS VARCHAR), CAST(value AS VARCHAR)));

-- Every vintage: (event, vintage time, source) is the key, so replaying a source appends nothing.
-- `row_hash` seals each vintage at insert: an UPDATE of a past vintage fails `revisions_unchanged`.
CREATE TABLE IF NOT EXISTS outcomes_revisions (
    event_ticker     VARCHAR NOT NULL,
    vintage_time     TIMESTAMP NOT NULL,   -- when this value became known
    source           VARCHAR NOT NULL,
    series_ticker    VARCHAR,
    reference_period DATE,
    vintage          INTEGER NOT NULL,     -- 1 = first print; a parsed number, never a label string
    value            DOUBLE NOT NULL,
    recorded_at      TIMESTAMP NOT NULL,
    row_hash         VARCHAR NOT NULL,
    PRIMARY KEY (event_ticker, vintage_time, source)
);
-- Warehouse files made before revisions were sealed: add the column and seal what they hold (a no-op
-- once every row has its hash).
ALTER TABLE outcomes_revisions ADD COLUMN IF NOT EXISTS row_hash VARCHAR;
UPDATE outcomes_revisions SET row_hash = revision_hash(event_ticker, vintage_time, source, vintage, value)
WHERE row_hash IS NULL;
COMMENT ON COLUMN outcomes_revisions.row_hash IS 'revision_hash(event_ticker, vintage_time, source, vintage, value) taken at insert; a mismatch means the vintage was changed';
COMMENT ON COLUMN outcomes_revisions.event_ticker IS 'The event whose value was (re)published';
COMMENT ON COLUMN outcomes_revisions.vintage_time IS 'UTC time this vintage became known';
COMMENT ON COLUMN outcomes_revisions.source IS 'Where the vintage came from: demo, alfred';
COMMENT ON COLUMN outcomes_revisions.series_ticker IS 'The event''s series';
COMMENT ON COLUMN outcomes_revisions.reference_period IS 'First day of the period the value describes';
COMMENT ON COLUMN outcomes_revisions.vintage IS 'Vintage number: 1 is the first print, 2 the first revision, ...';
COMMENT ON COLUMN outcomes_revisions.value IS 'The value of this vintage, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN outcomes_revisions.recorded_at IS 'UTC time this warehouse stored it';

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
COMMENT ON COLUMN event_labels.event_ticker IS 'The labelled event';
COMMENT ON COLUMN event_labels.label_mode IS 'first_print (what Kalshi settles on) or latest (newest vintage known at as_of)';
COMMENT ON COLUMN event_labels.as_of IS 'UTC time the labels were computed for: nothing known later is used';
COMMENT ON COLUMN event_labels.realized_value IS 'The realized value under label_mode, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_labels.label_known_at IS 'UTC time the label became known (release time or vintage time)';
COMMENT ON COLUMN event_labels.source IS 'Source of the realized value';
COMMENT ON COLUMN event_labels.vintage IS 'Vintage number of the realized value (1 = first print)';
COMMENT ON COLUMN event_labels.implied_snapshot_ts IS 'The last implied-distribution snapshot before the release';
COMMENT ON COLUMN event_labels.implied_mean IS 'Mean of that implied distribution, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_labels.implied_sd IS 'Standard deviation of that implied distribution, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_labels.surprise IS 'realized_value - implied_mean, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_labels.surprise_z IS 'surprise / implied_sd (standard deviations)';

-- ============================== reports ==============================
-- Calibration of the market-implied contract probabilities, seen `horizon_hours` before each release
-- (asset calibration_curve; rebuilt whole on each materialization).
CREATE TABLE IF NOT EXISTS calibration_bins (
    horizon_hours      INTEGER NOT NULL,
    bin                INTEGER NOT NULL,     -- probability bin k covers [k/n, (k+1)/n)
    bin_lower          DOUBLE NOT NULL,
    bin_upper          DOUBLE NOT NULL,
    n_contracts        INTEGER NOT NULL,
    mean_forecast      DOUBLE NOT NULL,
    observed_frequency DOUBLE NOT NULL,
    computed_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (horizon_hours, bin)
);
COMMENT ON COLUMN calibration_bins.horizon_hours IS 'Hours before the release at which contract probabilities were read';
COMMENT ON COLUMN calibration_bins.bin IS 'Probability bin k, covering [k/n, (k+1)/n)';
COMMENT ON COLUMN calibration_bins.bin_lower IS 'Lower edge of the bin (probability)';
COMMENT ON COLUMN calibration_bins.bin_upper IS 'Upper edge of the bin (probability)';
COMMENT ON COLUMN calibration_bins.n_contracts IS 'Contracts whose implied probability fell in the bin';
COMMENT ON COLUMN calibration_bins.mean_forecast IS 'Mean implied probability of YES in the bin';
COMMENT ON COLUMN calibration_bins.observed_frequency IS 'Share of the bin''s contracts that settled YES';
COMMENT ON COLUMN calibration_bins.computed_at IS 'UTC time the curve was computed';

CREATE TABLE IF NOT EXISTS calibration_scores (
    horizon_hours INTEGER PRIMARY KEY,
    n_contracts   INTEGER NOT NULL,
    brier         DOUBLE NOT NULL,
    log_loss      DOUBLE NOT NULL,
    ece           DOUBLE NOT NULL,
    computed_at   TIMESTAMP NOT NULL
);
COMMENT ON COLUMN calibration_scores.horizon_hours IS 'Hours before the release at which contract probabilities were read';
COMMENT ON COLUMN calibration_scores.n_contracts IS 'Contracts scored';
COMMENT ON COLUMN calibration_scores.brier IS 'Brier score of the implied probabilities (lower is better)';
COMMENT ON COLUMN calibration_scores.log_loss IS 'Log loss of the implied probabilities (lower is better)';
COMMENT ON COLUMN calibration_scores.ece IS 'Expected calibration error over the bins';
COMMENT ON COLUMN calibration_scores.computed_at IS 'UTC time the scores were computed';

-- ============================== distributions ==============================

-- Kalshi's own forecast percentiles per event (GET .../forecast_percentile_history), hourly.
-- `percentile` in 0..10000 (5000 = the median); `value` as Kalshi rounds it, `raw_value` unrounded.
CREATE TABLE IF NOT EXISTS kalshi_forecast_percentiles (
    event_ticker   VARCHAR NOT NULL,
    series_ticker  VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,   -- end of the period the forecast describes
    percentile     INTEGER NOT NULL,
    value          DOUBLE,
    raw_value      DOUBLE,
    ingested_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, ts, percentile)  -- key checked on write, not indexed
);
COMMENT ON COLUMN kalshi_forecast_percentiles.event_ticker IS 'The event forecast';
COMMENT ON COLUMN kalshi_forecast_percentiles.series_ticker IS 'The event''s series';
COMMENT ON COLUMN kalshi_forecast_percentiles.ts IS 'UTC end of the period the forecast describes';
COMMENT ON COLUMN kalshi_forecast_percentiles.percentile IS 'Percentile in basis points of probability, 0-10000 (5000 = the median)';
COMMENT ON COLUMN kalshi_forecast_percentiles.value IS 'Kalshi''s forecast value at that percentile, as Kalshi rounds it, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN kalshi_forecast_percentiles.raw_value IS 'The same value unrounded, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN kalshi_forecast_percentiles.ingested_at IS 'UTC time this row was written';

-- One row per (event, hourly snapshot) with the full column set of analytics.snapshot_schema on every
-- path (status says why moments are missing). Partitioned by day of snapshot_ts.
CREATE TABLE IF NOT EXISTS distribution_snapshots (
    event_ticker                  VARCHAR NOT NULL,
    snapshot_ts                   TIMESTAMP NOT NULL,  -- as-of time: only quotes with ts <= snapshot_ts
    series_ticker                 VARCHAR NOT NULL,
    event_type                    VARCHAR,
    release_time                  TIMESTAMP NOT NULL,
    status                        VARCHAR NOT NULL,
    direction                     VARCHAR NOT NULL,
    direction_source              VARCHAR NOT NULL,
    direction_confidence          DOUBLE NOT NULL,
    n_contracts                   BIGINT NOT NULL,
    n_resolved                    BIGINT NOT NULL,
    n_quotes_used                 BIGINT NOT NULL,
    n_quotes_mid                  BIGINT NOT NULL,
    n_quotes_last_trade           BIGINT NOT NULL,
    n_excluded_missing            BIGINT NOT NULL,
    n_excluded_stale              BIGINT NOT NULL,
    n_excluded_unpriced           BIGINT NOT NULL,
    n_bins                        BIGINT NOT NULL,
    value_grid                    DOUBLE,
    strike_min                    DOUBLE,
    strike_max                    DOUBLE,
    coverage_share                DOUBLE NOT NULL,
    two_sided_share               DOUBLE,
    median_spread                 DOUBLE,
    median_quote_age_hours        DOUBLE,
    median_depth                  DOUBLE,
    monotonic_violations_pre      BIGINT NOT NULL,
    monotonic_violation_magnitude DOUBLE,
    isotonic_adjustment_magnitude DOUBLE,
    renormalization_delta         DOUBLE,
    bin_overlap_count             BIGINT NOT NULL,
    bin_gap_count                 BIGINT NOT NULL,
    bin_gap_mass_estimate         DOUBLE,
    bin_support_is_ordered        BOOLEAN NOT NULL,
    violated_constraints_pre      VARCHAR NOT NULL,
    violated_constraints_post     VARCHAR NOT NULL,
    mean                          DOUBLE,
    std                           DOUBLE,
    skew                          DOUBLE,
    excess_kurtosis               DOUBLE,
    q05                           DOUBLE,
    q10                           DOUBLE,
    q25                           DOUBLE,
    median                        DOUBLE,
    q75                           DOUBLE,
    q90                           DOUBLE,
    q95                           DOUBLE,
    tail_mass_lower               DOUBLE,
    tail_mass_upper               DOUBLE,
    tail_mass                     DOUBLE,
    quality_score                 DOUBLE NOT NULL,
    quality_low                   BOOLEAN NOT NULL,
    kalshi_median                 DOUBLE,              -- Kalshi's 50th forecast percentile as of snapshot_ts
    kalshi_median_ts              TIMESTAMP,
    median_minus_kalshi           DOUBLE,              -- our median - Kalshi's
    run_id                        VARCHAR NOT NULL,    -- the Dagster run that wrote the row
    PRIMARY KEY (event_ticker, snapshot_ts)  -- key checked on write, not indexed
);
COMMENT ON COLUMN distribution_snapshots.event_ticker IS 'The event whose released value the distribution describes';
COMMENT ON COLUMN distribution_snapshots.snapshot_ts IS 'As-of UTC time: only quotes with ts <= snapshot_ts are used (the daily partition is its day)';
COMMENT ON COLUMN distribution_snapshots.series_ticker IS 'The event''s series';
COMMENT ON COLUMN distribution_snapshots.event_type IS 'CPI, FOMC, UNEMPLOYMENT, GDP or PAYROLLS';
COMMENT ON COLUMN distribution_snapshots.release_time IS 'UTC release time of the event';
COMMENT ON COLUMN distribution_snapshots.status IS 'ok, or why no distribution: empty_ladder, direction_unresolved, no_usable_quotes, too_few_rungs, zero_total_mass';
COMMENT ON COLUMN distribution_snapshots.direction IS 'What the ladder''s quotes state: survival S(k), cdf F(k), both, bins, or unresolved';
COMMENT ON COLUMN distribution_snapshots.direction_source IS 'What direction was read from: strike_type, or unresolved';
COMMENT ON COLUMN distribution_snapshots.direction_confidence IS 'Share of contracts agreeing on the direction (0-1)';
COMMENT ON COLUMN distribution_snapshots.n_contracts IS 'Contracts in the ladder';
COMMENT ON COLUMN distribution_snapshots.n_resolved IS 'Contracts whose direction is known';
COMMENT ON COLUMN distribution_snapshots.n_quotes_used IS 'Contracts priced (n_quotes_mid + n_quotes_last_trade)';
COMMENT ON COLUMN distribution_snapshots.n_quotes_mid IS 'Contracts priced at the mid of bid and ask';
COMMENT ON COLUMN distribution_snapshots.n_quotes_last_trade IS 'Contracts priced at the last trade (spread too wide)';
COMMENT ON COLUMN distribution_snapshots.n_excluded_missing IS 'Contracts left out: no quote as of snapshot_ts';
COMMENT ON COLUMN distribution_snapshots.n_excluded_stale IS 'Contracts left out: quote older than the staleness limit';
COMMENT ON COLUMN distribution_snapshots.n_excluded_unpriced IS 'Contracts left out: no usable bid, ask or trade';
COMMENT ON COLUMN distribution_snapshots.n_bins IS 'Bins of the repaired distribution';
COMMENT ON COLUMN distribution_snapshots.value_grid IS 'The grid the released value sits on (0.1 for CPI, 1000 for payrolls), in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.strike_min IS 'Lowest strike used, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.strike_max IS 'Highest strike used, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.coverage_share IS 'Share of the ladder''s contracts priced (0-1)';
COMMENT ON COLUMN distribution_snapshots.two_sided_share IS 'Share of priced contracts with both a bid and an ask (0-1)';
COMMENT ON COLUMN distribution_snapshots.median_spread IS 'Median ask - bid of the priced contracts, dollars';
COMMENT ON COLUMN distribution_snapshots.median_quote_age_hours IS 'Median age of the quotes used, hours';
COMMENT ON COLUMN distribution_snapshots.median_depth IS 'Median open interest of the priced contracts, contracts';
COMMENT ON COLUMN distribution_snapshots.monotonic_violations_pre IS 'Adjacent strikes breaking monotonicity before the repair';
COMMENT ON COLUMN distribution_snapshots.monotonic_violation_magnitude IS 'Largest monotonicity break before the repair (probability)';
COMMENT ON COLUMN distribution_snapshots.isotonic_adjustment_magnitude IS 'Largest change the isotonic repair made (probability)';
COMMENT ON COLUMN distribution_snapshots.renormalization_delta IS 'How far the masses summed from 1 before renormalizing';
COMMENT ON COLUMN distribution_snapshots.bin_overlap_count IS 'Pairs of bins that overlap (mutually exclusive ladders)';
COMMENT ON COLUMN distribution_snapshots.bin_gap_count IS 'Gaps between consecutive bins';
COMMENT ON COLUMN distribution_snapshots.bin_gap_mass_estimate IS 'Probability mass estimated to fall in the gaps';
COMMENT ON COLUMN distribution_snapshots.bin_support_is_ordered IS 'True when the bins are ordered by strike';
COMMENT ON COLUMN distribution_snapshots.violated_constraints_pre IS 'Constraints broken before the repair, ;-joined (empty when none)';
COMMENT ON COLUMN distribution_snapshots.violated_constraints_post IS 'Constraints still broken after the repair, ;-joined (empty when none)';
COMMENT ON COLUMN distribution_snapshots.mean IS 'Mean of the implied distribution, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.std IS 'Standard deviation of the implied distribution, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.skew IS 'Skewness of the implied distribution';
COMMENT ON COLUMN distribution_snapshots.excess_kurtosis IS 'Excess kurtosis of the implied distribution';
COMMENT ON COLUMN distribution_snapshots.q05 IS '5th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.q10 IS '10th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.q25 IS '25th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.median IS 'Median, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.q75 IS '75th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.q90 IS '90th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.q95 IS '95th percentile, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.tail_mass_lower IS 'Probability below the lowest strike';
COMMENT ON COLUMN distribution_snapshots.tail_mass_upper IS 'Probability above the highest strike';
COMMENT ON COLUMN distribution_snapshots.tail_mass IS 'tail_mass_lower + tail_mass_upper';
COMMENT ON COLUMN distribution_snapshots.quality_score IS 'Quality of the snapshot, 0 (unusable) to 1 (docs/METHODS.md section 1)';
COMMENT ON COLUMN distribution_snapshots.quality_low IS 'True when quality_score is below the usable threshold';
COMMENT ON COLUMN distribution_snapshots.kalshi_median IS 'Kalshi''s own 50th forecast percentile as of snapshot_ts, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.kalshi_median_ts IS 'UTC time of that Kalshi forecast';
COMMENT ON COLUMN distribution_snapshots.median_minus_kalshi IS 'median - kalshi_median, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshots.run_id IS 'The Dagster run that wrote the row';

-- The bins behind each snapshot with status ok: the repaired survival function and masses.
CREATE TABLE IF NOT EXISTS distribution_snapshot_bins (
    event_ticker    VARCHAR NOT NULL,
    snapshot_ts     TIMESTAMP NOT NULL,
    bin_index       INTEGER NOT NULL,
    lower_edge      DOUBLE NOT NULL,
    upper_edge      DOUBLE NOT NULL,
    support_point   DOUBLE NOT NULL,
    mass            DOUBLE NOT NULL,
    cdf_upper       DOUBLE NOT NULL,
    survival_upper  DOUBLE NOT NULL,
    is_open_tail    BOOLEAN NOT NULL,
    PRIMARY KEY (event_ticker, snapshot_ts, bin_index)  -- key checked on write, not indexed
);
COMMENT ON COLUMN distribution_snapshot_bins.event_ticker IS 'The event of the snapshot';
COMMENT ON COLUMN distribution_snapshot_bins.snapshot_ts IS 'As-of UTC time of the snapshot';
COMMENT ON COLUMN distribution_snapshot_bins.bin_index IS 'Position of the bin, lowest values first';
COMMENT ON COLUMN distribution_snapshot_bins.lower_edge IS 'Lower edge of the bin, in the event''s value units (percent, jobs or basis points by series) (finite for an open tail)';
COMMENT ON COLUMN distribution_snapshot_bins.upper_edge IS 'Upper edge of the bin, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshot_bins.support_point IS 'The value the bin''s mass sits on, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN distribution_snapshot_bins.mass IS 'Probability of the bin';
COMMENT ON COLUMN distribution_snapshot_bins.cdf_upper IS 'P(X <= upper_edge): cumulative mass through this bin';
COMMENT ON COLUMN distribution_snapshot_bins.survival_upper IS '1 - cdf_upper: the repaired survival function at the upper edge';
COMMENT ON COLUMN distribution_snapshot_bins.is_open_tail IS 'True for the open lower or upper tail bin';

-- ============================== trading ==============================
-- Orders routed by the paper_orders asset (mode paper, or live through the signed client). A row is
-- written `pending` BEFORE the order goes anywhere and completed after, keyed by the client_order_id
-- derived from (strategy, event, contract, decision time): a re-run or a retry can never route the
-- same decision twice, and a row left `pending` shows a run that died mid-order (reconcile it by hand).
CREATE TABLE IF NOT EXISTS paper_orders (
    client_order_id   VARCHAR PRIMARY KEY,
    mode              VARCHAR NOT NULL CHECK (mode IN ('paper', 'live')),
    strategy          VARCHAR NOT NULL,
    event_ticker      VARCHAR NOT NULL,
    market_ticker     VARCHAR NOT NULL,
    side              VARCHAR NOT NULL CHECK (side IN ('yes', 'no')),
    action            VARCHAR NOT NULL CHECK (action IN ('buy', 'sell')),
    contracts         INTEGER NOT NULL CHECK (contracts > 0),
    limit_price       DECIMAL(18, 4) NOT NULL,   -- dollars per contract of `side`
    notional          DECIMAL(18, 4) NOT NULL,   -- contracts x limit_price
    time_in_force     VARCHAR NOT NULL,
    decision_time     TIMESTAMP NOT NULL,        -- the snapshot time the decision used
    p_model           DOUBLE,                    -- the strategy's probability of `side` winning
    edge              DOUBLE,                    -- p_model - price - fee per contract
    status            VARCHAR NOT NULL CHECK (status IN ('pending', 'submitted', 'filled', 'rejected', 'error')),
    reason            VARCHAR,                   -- risk rule, circuit_breaker_open, exchange_closed, Kalshi's code
    message           VARCHAR,
    exchange_order_id VARCHAR,
    exchange_status   VARCHAR,                   -- executed, resting, canceled
    filled_contracts  INTEGER NOT NULL DEFAULT 0,
    average_price     DECIMAL(18, 4),
    fees              DECIMAL(18, 4) NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
COMMENT ON COLUMN paper_orders.client_order_id IS 'Idempotency key from (strategy, event, contract, decision time): a decision routes once';
COMMENT ON COLUMN paper_orders.mode IS 'paper or live';
COMMENT ON COLUMN paper_orders.strategy IS 'The promoted (or incubating) candidate that decided';
COMMENT ON COLUMN paper_orders.event_ticker IS 'The event traded';
COMMENT ON COLUMN paper_orders.market_ticker IS 'The contract traded';
COMMENT ON COLUMN paper_orders.side IS 'yes or no';
COMMENT ON COLUMN paper_orders.action IS 'buy or sell';
COMMENT ON COLUMN paper_orders.contracts IS 'Contracts ordered';
COMMENT ON COLUMN paper_orders.limit_price IS 'Limit price, dollars per contract of side';
COMMENT ON COLUMN paper_orders.notional IS 'contracts x limit_price, dollars';
COMMENT ON COLUMN paper_orders.time_in_force IS 'immediate_or_cancel, fill_or_kill or good_till_canceled';
COMMENT ON COLUMN paper_orders.decision_time IS 'UTC snapshot time the decision used';
COMMENT ON COLUMN paper_orders.p_model IS 'The strategy''s probability that side wins';
COMMENT ON COLUMN paper_orders.edge IS 'p_model - price - fee per contract, dollars';
COMMENT ON COLUMN paper_orders.status IS 'pending (written before routing), submitted, filled, rejected, error';
COMMENT ON COLUMN paper_orders.reason IS 'Why rejected or failed: a risk rule, circuit_breaker_open, exchange_closed, Kalshi''s code';
COMMENT ON COLUMN paper_orders.message IS 'Human-readable detail of the status';
COMMENT ON COLUMN paper_orders.exchange_order_id IS 'Kalshi''s order id (live) or the paper broker''s';
COMMENT ON COLUMN paper_orders.exchange_status IS 'executed, resting or canceled, as the exchange says';
COMMENT ON COLUMN paper_orders.filled_contracts IS 'Contracts filled';
COMMENT ON COLUMN paper_orders.average_price IS 'Average fill price, dollars per contract';
COMMENT ON COLUMN paper_orders.fees IS 'Fees paid, dollars';
COMMENT ON COLUMN paper_orders.created_at IS 'UTC time the row was written (before routing)';
COMMENT ON COLUMN paper_orders.updated_at IS 'UTC time the row was last updated';
-- Whether the strategy was promoted when it decided (false: paper-traded while incubating).
ALTER TABLE paper_orders ADD COLUMN IF NOT EXISTS promoted BOOLEAN;
COMMENT ON COLUMN paper_orders.promoted IS 'True when the strategy was promoted when it decided; false: incubating (paper only)';

-- Every execution of a routed order (paper fills are one row per book level taken).
CREATE TABLE IF NOT EXISTS paper_fills (
    trade_id          VARCHAR PRIMARY KEY,
    client_order_id   VARCHAR NOT NULL,
    exchange_order_id VARCHAR,
    mode              VARCHAR NOT NULL,
    strategy          VARCHAR NOT NULL,
    event_ticker      VARCHAR NOT NULL,
    market_ticker     VARCHAR NOT NULL,
    side              VARCHAR NOT NULL,
    action            VARCHAR NOT NULL,
    contracts         INTEGER NOT NULL CHECK (contracts > 0),
    price             DECIMAL(18, 4) NOT NULL,
    fee               DECIMAL(18, 4) NOT NULL,
    filled_at         TIMESTAMP NOT NULL
);
COMMENT ON COLUMN paper_fills.trade_id IS 'Fill id (paper: one per book level taken)';
COMMENT ON COLUMN paper_fills.client_order_id IS 'The order filled (paper_orders)';
COMMENT ON COLUMN paper_fills.exchange_order_id IS 'The exchange''s order id';
COMMENT ON COLUMN paper_fills.mode IS 'paper or live';
COMMENT ON COLUMN paper_fills.strategy IS 'The strategy that ordered';
COMMENT ON COLUMN paper_fills.event_ticker IS 'The event traded';
COMMENT ON COLUMN paper_fills.market_ticker IS 'The contract traded';
COMMENT ON COLUMN paper_fills.side IS 'yes or no';
COMMENT ON COLUMN paper_fills.action IS 'buy or sell';
COMMENT ON COLUMN paper_fills.contracts IS 'Contracts filled';
COMMENT ON COLUMN paper_fills.price IS 'Fill price, dollars per contract of side';
COMMENT ON COLUMN paper_fills.fee IS 'Fee of this fill, dollars';
COMMENT ON COLUMN paper_fills.filled_at IS 'UTC time of the fill';

-- Positions per (mode, strategy, market) replayed from every fill, settled on kalshi_markets' result
-- or marked at the latest mid (rebuilt whole by the paper_positions asset).
CREATE TABLE IF NOT EXISTS paper_positions (
    mode             VARCHAR NOT NULL,
    strategy         VARCHAR NOT NULL,
    market_ticker    VARCHAR NOT NULL,
    event_ticker     VARCHAR,
    position         INTEGER NOT NULL,          -- signed YES contracts: + long YES, - long NO
    average_price    DECIMAL(18, 4) NOT NULL,   -- YES price of the open contracts
    cost_basis       DECIMAL(18, 4) NOT NULL,   -- position x average_price
    bought           INTEGER NOT NULL,
    sold             INTEGER NOT NULL,
    fees             DECIMAL(18, 4) NOT NULL,
    realized_pnl     DECIMAL(18, 4) NOT NULL,   -- closes and settlement, net of fees
    mark_price       DECIMAL(18, 4),            -- YES mark used for unrealized P&L
    mark_ts          TIMESTAMP,
    mark_source      VARCHAR NOT NULL CHECK (mark_source IN ('settlement', 'mid', 'last_price', 'none')),
    unrealized_pnl   DECIMAL(18, 4) NOT NULL,
    total_pnl        DECIMAL(18, 4) NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('open', 'flat', 'settled')),
    settlement_value DECIMAL(18, 4),
    settled_at       TIMESTAMP,
    as_of            TIMESTAMP NOT NULL,
    PRIMARY KEY (mode, strategy, market_ticker)
);
COMMENT ON COLUMN paper_positions.mode IS 'paper or live';
COMMENT ON COLUMN paper_positions.strategy IS 'The strategy holding the position';
COMMENT ON COLUMN paper_positions.market_ticker IS 'The contract held';
COMMENT ON COLUMN paper_positions.event_ticker IS 'The contract''s event';
COMMENT ON COLUMN paper_positions.position IS 'Signed YES contracts: positive long YES, negative long NO';
COMMENT ON COLUMN paper_positions.average_price IS 'Average YES price of the open contracts, dollars';
COMMENT ON COLUMN paper_positions.cost_basis IS 'position x average_price, dollars';
COMMENT ON COLUMN paper_positions.bought IS 'Contracts bought';
COMMENT ON COLUMN paper_positions.sold IS 'Contracts sold';
COMMENT ON COLUMN paper_positions.fees IS 'Fees paid, dollars';
COMMENT ON COLUMN paper_positions.realized_pnl IS 'P&L of closes and settlement, net of fees, dollars';
COMMENT ON COLUMN paper_positions.mark_price IS 'YES price the open contracts are marked at, dollars';
COMMENT ON COLUMN paper_positions.mark_ts IS 'UTC time of the mark';
COMMENT ON COLUMN paper_positions.mark_source IS 'settlement, mid, last_price or none';
COMMENT ON COLUMN paper_positions.unrealized_pnl IS 'P&L of the open contracts at the mark, dollars';
COMMENT ON COLUMN paper_positions.total_pnl IS 'realized_pnl + unrealized_pnl, dollars';
COMMENT ON COLUMN paper_positions.status IS 'open, flat or settled';
COMMENT ON COLUMN paper_positions.settlement_value IS 'YES payout at settlement, dollars';
COMMENT ON COLUMN paper_positions.settled_at IS 'UTC time the market settled';
COMMENT ON COLUMN paper_positions.as_of IS 'UTC time the positions were computed for (the market-data source''s now)';

-- P&L per (mode, strategy) as of each materialization's `as_of` (the market-data source's now): the
-- history of the strategy's paper account.
CREATE TABLE IF NOT EXISTS paper_pnl (
    mode               VARCHAR NOT NULL,
    strategy           VARCHAR NOT NULL,
    as_of              TIMESTAMP NOT NULL,
    orders             BIGINT NOT NULL,
    filled_orders      BIGINT NOT NULL,
    submitted_orders   BIGINT NOT NULL,
    rejected_orders    BIGINT NOT NULL,
    error_orders       BIGINT NOT NULL,
    pending_orders     BIGINT NOT NULL,
    fills              BIGINT NOT NULL,
    contracts_traded   BIGINT NOT NULL,
    open_positions     BIGINT NOT NULL,
    settled_positions  BIGINT NOT NULL,
    cash_spent         DECIMAL(18, 4) NOT NULL,  -- premiums paid minus received, fees excluded
    fees               DECIMAL(18, 4) NOT NULL,
    realized_pnl       DECIMAL(18, 4) NOT NULL,
    unrealized_pnl     DECIMAL(18, 4) NOT NULL,
    total_pnl          DECIMAL(18, 4) NOT NULL,
    computed_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (mode, strategy, as_of)
);
COMMENT ON COLUMN paper_pnl.mode IS 'paper or live';
COMMENT ON COLUMN paper_pnl.strategy IS 'The strategy''s account';
COMMENT ON COLUMN paper_pnl.as_of IS 'UTC time the P&L is as of (the market-data source''s now)';
COMMENT ON COLUMN paper_pnl.orders IS 'Orders routed';
COMMENT ON COLUMN paper_pnl.filled_orders IS 'Orders filled';
COMMENT ON COLUMN paper_pnl.submitted_orders IS 'Orders submitted and not yet filled';
COMMENT ON COLUMN paper_pnl.rejected_orders IS 'Orders rejected (risk rules, breaker, exchange)';
COMMENT ON COLUMN paper_pnl.error_orders IS 'Orders that failed';
COMMENT ON COLUMN paper_pnl.pending_orders IS 'Orders left pending (a run died mid-order)';
COMMENT ON COLUMN paper_pnl.fills IS 'Fills';
COMMENT ON COLUMN paper_pnl.contracts_traded IS 'Contracts traded';
COMMENT ON COLUMN paper_pnl.open_positions IS 'Positions open';
COMMENT ON COLUMN paper_pnl.settled_positions IS 'Positions settled';
COMMENT ON COLUMN paper_pnl.cash_spent IS 'Premiums paid minus received, fees excluded, dollars';
COMMENT ON COLUMN paper_pnl.fees IS 'Fees paid, dollars';
COMMENT ON COLUMN paper_pnl.realized_pnl IS 'Realized P&L, dollars';
COMMENT ON COLUMN paper_pnl.unrealized_pnl IS 'Unrealized P&L at the marks, dollars';
COMMENT ON COLUMN paper_pnl.total_pnl IS 'realized_pnl + unrealized_pnl, dollars';
COMMENT ON COLUMN paper_pnl.computed_at IS 'UTC time the row was computed';

-- ============================== research ==============================
-- Purged event features, walk-forward folds and out-of-sample traces, promotion decisions, and scores of
-- the implied distributions as forecasts (docs/METHODS.md sections 3-6). Each table is rebuilt whole by its asset.

-- One row per (event, horizon): the distribution as of as_of = min(release - horizon, release - purge window).
CREATE TABLE IF NOT EXISTS event_features (
    event_ticker              VARCHAR NOT NULL,
    horizon_days              INTEGER NOT NULL,
    series_ticker             VARCHAR,
    event_type                VARCHAR NOT NULL,
    release_time              TIMESTAMP NOT NULL,
    purge_days                INTEGER NOT NULL,
    as_of                     TIMESTAMP NOT NULL,
    snapshot_ts               TIMESTAMP,          -- the snapshot used (latest ok one at or before as_of)
    prior_snapshot_ts         TIMESTAMP,          -- ... and the one the changes are taken against
    snapshot_age_hours        DOUBLE,
    observed_until            TIMESTAMP,          -- the latest time of any input (snapshots and quotes)
    implied_mean              DOUBLE,
    implied_sd                DOUBLE,
    implied_skew              DOUBLE,
    implied_excess_kurtosis   DOUBLE,
    implied_q05               DOUBLE,
    implied_q10               DOUBLE,
    implied_q25               DOUBLE,
    implied_median            DOUBLE,
    implied_q75               DOUBLE,
    implied_q90               DOUBLE,
    implied_q95               DOUBLE,
    chg_implied_mean          DOUBLE,             -- value at as_of minus value at as_of - change window
    chg_implied_sd            DOUBLE,
    chg_implied_skew          DOUBLE,
    chg_implied_excess_kurtosis DOUBLE,
    chg_implied_q05           DOUBLE,
    chg_implied_q10           DOUBLE,
    chg_implied_q25           DOUBLE,
    chg_implied_median        DOUBLE,
    chg_implied_q75           DOUBLE,
    chg_implied_q90           DOUBLE,
    chg_implied_q95           DOUBLE,
    value_grid                DOUBLE,
    quality_score             DOUBLE,
    quality_low               BOOLEAN,
    median_spread             DOUBLE,
    two_sided_share           DOUBLE,
    coverage_share            DOUBLE,
    tail_mass                 DOUBLE,
    ladder_volume             DECIMAL(18, 2),     -- contracts traded on the ladder in (as_of - change window, as_of]
    ladder_open_interest      DECIMAL(18, 2),     -- open interest of the ladder at as_of
    change_window_days        DOUBLE NOT NULL,
    computed_at               TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, horizon_days)
);
COMMENT ON COLUMN event_features.event_ticker IS 'The event';
COMMENT ON COLUMN event_features.horizon_days IS 'Days before the release the features are taken';
COMMENT ON COLUMN event_features.series_ticker IS 'The event''s series';
COMMENT ON COLUMN event_features.event_type IS 'CPI, FOMC, UNEMPLOYMENT, GDP or PAYROLLS';
COMMENT ON COLUMN event_features.release_time IS 'UTC release time';
COMMENT ON COLUMN event_features.purge_days IS 'The event type''s purge window, days (docs/METHODS.md section 3)';
COMMENT ON COLUMN event_features.as_of IS 'UTC time of the features: min(release - horizon, release - purge window)';
COMMENT ON COLUMN event_features.snapshot_ts IS 'The snapshot used: the latest ok one at or before as_of';
COMMENT ON COLUMN event_features.prior_snapshot_ts IS 'The snapshot the changes are taken against';
COMMENT ON COLUMN event_features.snapshot_age_hours IS 'as_of - snapshot_ts, hours';
COMMENT ON COLUMN event_features.observed_until IS 'Latest UTC time of any input used (snapshots and quotes)';
COMMENT ON COLUMN event_features.implied_mean IS 'Implied mean at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_sd IS 'Implied standard deviation at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_skew IS 'Implied skewness at as_of';
COMMENT ON COLUMN event_features.implied_excess_kurtosis IS 'Implied excess kurtosis at as_of';
COMMENT ON COLUMN event_features.implied_q05 IS 'Implied 5th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_q10 IS 'Implied 10th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_q25 IS 'Implied 25th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_median IS 'Implied median at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_q75 IS 'Implied 75th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_q90 IS 'Implied 90th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.implied_q95 IS 'Implied 95th percentile at as_of, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.chg_implied_mean IS 'Change of implied_mean over the change window';
COMMENT ON COLUMN event_features.chg_implied_sd IS 'Change of implied_sd over the change window';
COMMENT ON COLUMN event_features.chg_implied_skew IS 'Change of implied_skew over the change window';
COMMENT ON COLUMN event_features.chg_implied_excess_kurtosis IS 'Change of implied_excess_kurtosis over the change window';
COMMENT ON COLUMN event_features.chg_implied_q05 IS 'Change of implied_q05 over the change window';
COMMENT ON COLUMN event_features.chg_implied_q10 IS 'Change of implied_q10 over the change window';
COMMENT ON COLUMN event_features.chg_implied_q25 IS 'Change of implied_q25 over the change window';
COMMENT ON COLUMN event_features.chg_implied_median IS 'Change of implied_median over the change window';
COMMENT ON COLUMN event_features.chg_implied_q75 IS 'Change of implied_q75 over the change window';
COMMENT ON COLUMN event_features.chg_implied_q90 IS 'Change of implied_q90 over the change window';
COMMENT ON COLUMN event_features.chg_implied_q95 IS 'Change of implied_q95 over the change window';
COMMENT ON COLUMN event_features.value_grid IS 'The grid the released value sits on, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN event_features.quality_score IS 'Quality of the snapshot used, 0-1';
COMMENT ON COLUMN event_features.quality_low IS 'True when that snapshot''s quality is low';
COMMENT ON COLUMN event_features.median_spread IS 'Median bid-ask spread of the snapshot''s contracts, dollars';
COMMENT ON COLUMN event_features.two_sided_share IS 'Share of the snapshot''s contracts with a bid and an ask';
COMMENT ON COLUMN event_features.coverage_share IS 'Share of the ladder priced in the snapshot';
COMMENT ON COLUMN event_features.tail_mass IS 'Probability outside the strikes in the snapshot';
COMMENT ON COLUMN event_features.ladder_volume IS 'Contracts traded on the ladder in (as_of - change window, as_of]';
COMMENT ON COLUMN event_features.ladder_open_interest IS 'Open interest of the ladder at as_of, contracts';
COMMENT ON COLUMN event_features.change_window_days IS 'Length of the change window, days';
COMMENT ON COLUMN event_features.computed_at IS 'UTC time the row was computed';

-- Every event's role in every fold, and why (train, test, purged, excluded). No embargo: a walk-forward
-- never trains on events after its test block (docs/METHODS.md section 3); cpcv_splits has one.
CREATE TABLE IF NOT EXISTS walkforward_folds (
    fold          INTEGER NOT NULL,
    event_ticker  VARCHAR NOT NULL,
    event_type    VARCHAR NOT NULL,
    role          VARCHAR NOT NULL CHECK (role IN ('train', 'test', 'purged', 'excluded')),
    reason        VARCHAR NOT NULL,
    t0            TIMESTAMP NOT NULL,   -- earliest feature as_of of the event
    t1            TIMESTAMP NOT NULL,   -- when its label is known
    t1_widened    TIMESTAMP NOT NULL,   -- t1 + the event type's purge window
    purge_days    INTEGER NOT NULL,
    release_time  TIMESTAMP NOT NULL,
    test_start    TIMESTAMP NOT NULL,
    test_end      TIMESTAMP NOT NULL,
    mode          VARCHAR NOT NULL,
    label_mode    VARCHAR NOT NULL,
    computed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (fold, event_ticker)
);
-- Warehouse files made while the walk-forward still had an embargo lose that column (a no-op otherwise).
ALTER TABLE walkforward_folds DROP COLUMN IF EXISTS embargo_hours;
COMMENT ON COLUMN walkforward_folds.fold IS 'Walk-forward fold number';
COMMENT ON COLUMN walkforward_folds.event_ticker IS 'The event';
COMMENT ON COLUMN walkforward_folds.event_type IS 'The event''s type';
COMMENT ON COLUMN walkforward_folds.role IS 'train, test, purged or excluded in this fold (no embargo in a walk-forward: docs/METHODS.md section 3)';
COMMENT ON COLUMN walkforward_folds.reason IS 'Why the event has this role';
COMMENT ON COLUMN walkforward_folds.t0 IS 'Earliest feature as_of of the event (UTC)';
COMMENT ON COLUMN walkforward_folds.t1 IS 'UTC time the event''s label is known';
COMMENT ON COLUMN walkforward_folds.t1_widened IS 't1 + the event type''s purge window (UTC)';
COMMENT ON COLUMN walkforward_folds.purge_days IS 'The event type''s purge window, days';
COMMENT ON COLUMN walkforward_folds.release_time IS 'UTC release time';
COMMENT ON COLUMN walkforward_folds.test_start IS 'UTC start of the fold''s test window';
COMMENT ON COLUMN walkforward_folds.test_end IS 'UTC end of the fold''s test window';
COMMENT ON COLUMN walkforward_folds.mode IS 'Fold layout (expanding or rolling)';
COMMENT ON COLUMN walkforward_folds.label_mode IS 'first_print or latest: which labels the folds use';
COMMENT ON COLUMN walkforward_folds.computed_at IS 'UTC time the folds were computed';

-- The candidates tried (all of them count towards the deflated Sharpe) and their capacity, honestly.
CREATE TABLE IF NOT EXISTS walkforward_candidates (
    candidate           VARCHAR PRIMARY KEY,
    horizon_days        INTEGER NOT NULL,
    edge_threshold      DOUBLE NOT NULL,
    capacity_share      DOUBLE NOT NULL,
    capacity_window_hours DOUBLE NOT NULL,
    max_contracts       INTEGER NOT NULL,
    max_order_notional  DECIMAL(18, 4) NOT NULL,
    bankroll            DECIMAL(18, 4) NOT NULL,
    trades              INTEGER NOT NULL,
    contracts           BIGINT NOT NULL,
    window_volume       DECIMAL(18, 2) NOT NULL,  -- contracts that traded in the traded markets' windows
    share_of_volume     DOUBLE NOT NULL,
    capped_by_capacity  INTEGER NOT NULL,         -- trades whose size the capacity cap set
    blocked_no_capacity INTEGER NOT NULL,         -- signals with an edge but nothing traded to fill them
    total_pnl           DECIMAL(18, 4) NOT NULL,
    computed_at         TIMESTAMP NOT NULL
);
COMMENT ON COLUMN walkforward_candidates.candidate IS 'Candidate strategy name (horizon and edge threshold)';
COMMENT ON COLUMN walkforward_candidates.horizon_days IS 'Days before the release the candidate trades';
COMMENT ON COLUMN walkforward_candidates.edge_threshold IS 'Minimum edge per contract to trade, dollars';
COMMENT ON COLUMN walkforward_candidates.capacity_share IS 'Largest share of the window''s traded volume a trade may take';
COMMENT ON COLUMN walkforward_candidates.capacity_window_hours IS 'Window over which traded volume caps the size, hours';
COMMENT ON COLUMN walkforward_candidates.max_contracts IS 'Largest trade, contracts';
COMMENT ON COLUMN walkforward_candidates.max_order_notional IS 'Largest order notional, dollars';
COMMENT ON COLUMN walkforward_candidates.bankroll IS 'Bankroll the returns are taken against, dollars';
COMMENT ON COLUMN walkforward_candidates.trades IS 'Out-of-sample trades';
COMMENT ON COLUMN walkforward_candidates.contracts IS 'Contracts traded out of sample';
COMMENT ON COLUMN walkforward_candidates.window_volume IS 'Contracts that traded in the traded markets'' windows';
COMMENT ON COLUMN walkforward_candidates.share_of_volume IS 'contracts / window_volume';
COMMENT ON COLUMN walkforward_candidates.capped_by_capacity IS 'Trades whose size the capacity cap set';
COMMENT ON COLUMN walkforward_candidates.blocked_no_capacity IS 'Signals with an edge but no traded volume to fill them';
COMMENT ON COLUMN walkforward_candidates.total_pnl IS 'Out-of-sample P&L, dollars';
COMMENT ON COLUMN walkforward_candidates.computed_at IS 'UTC time the row was computed';

-- Out-of-sample traces: one row per trade, settled on the first print.
CREATE TABLE IF NOT EXISTS walkforward_results (
    candidate          VARCHAR NOT NULL,
    fold               INTEGER NOT NULL,
    event_ticker       VARCHAR NOT NULL,
    event_type         VARCHAR NOT NULL,
    release_time       TIMESTAMP NOT NULL,
    horizon_days       INTEGER NOT NULL,
    as_of              TIMESTAMP NOT NULL,
    market_ticker      VARCHAR NOT NULL,
    strike_type        VARCHAR NOT NULL,
    floor_strike       DOUBLE,
    cap_strike         DOUBLE,
    side               VARCHAR NOT NULL CHECK (side IN ('yes', 'no')),
    price              DECIMAL(10, 4) NOT NULL,
    size               INTEGER NOT NULL CHECK (size > 0),
    fee                DECIMAL(18, 4) NOT NULL,
    cost               DECIMAL(18, 4) NOT NULL,
    p_model            DOUBLE NOT NULL,
    edge               DOUBLE NOT NULL,          -- dollars per contract after the taker fee
    first_print        DOUBLE NOT NULL,
    won                BOOLEAN NOT NULL,
    payout             DECIMAL(18, 4) NOT NULL,
    pnl                DECIMAL(18, 4) NOT NULL,
    trade_return       DOUBLE NOT NULL,          -- pnl / cost
    bankroll_return    DOUBLE NOT NULL,          -- pnl / bankroll: the series the gates judge
    window_volume      DECIMAL(18, 2) NOT NULL,
    open_interest      DECIMAL(18, 2) NOT NULL,
    capacity_contracts INTEGER NOT NULL,
    size_limited_by    VARCHAR NOT NULL,
    computed_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (candidate, fold, event_ticker, market_ticker)
);
COMMENT ON COLUMN walkforward_results.candidate IS 'The candidate that traded';
COMMENT ON COLUMN walkforward_results.fold IS 'The fold whose test window held the trade';
COMMENT ON COLUMN walkforward_results.event_ticker IS 'The event traded';
COMMENT ON COLUMN walkforward_results.event_type IS 'The event''s type';
COMMENT ON COLUMN walkforward_results.release_time IS 'UTC release time';
COMMENT ON COLUMN walkforward_results.horizon_days IS 'Days before the release the trade was decided';
COMMENT ON COLUMN walkforward_results.as_of IS 'UTC decision time';
COMMENT ON COLUMN walkforward_results.market_ticker IS 'The contract traded';
COMMENT ON COLUMN walkforward_results.strike_type IS 'The contract''s strike type';
COMMENT ON COLUMN walkforward_results.floor_strike IS 'Lower strike, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN walkforward_results.cap_strike IS 'Upper strike, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN walkforward_results.side IS 'yes or no';
COMMENT ON COLUMN walkforward_results.price IS 'Price paid, dollars per contract';
COMMENT ON COLUMN walkforward_results.size IS 'Contracts';
COMMENT ON COLUMN walkforward_results.fee IS 'Taker fee, dollars';
COMMENT ON COLUMN walkforward_results.cost IS 'price x size + fee, dollars';
COMMENT ON COLUMN walkforward_results.p_model IS 'The model''s probability that side wins';
COMMENT ON COLUMN walkforward_results.edge IS 'Edge per contract after the taker fee, dollars';
COMMENT ON COLUMN walkforward_results.first_print IS 'The first print the trade settled on, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN walkforward_results.won IS 'True when side won';
COMMENT ON COLUMN walkforward_results.payout IS 'Payout at settlement, dollars';
COMMENT ON COLUMN walkforward_results.pnl IS 'payout - cost, dollars';
COMMENT ON COLUMN walkforward_results.trade_return IS 'pnl / cost';
COMMENT ON COLUMN walkforward_results.bankroll_return IS 'pnl / bankroll: the series the gates judge';
COMMENT ON COLUMN walkforward_results.window_volume IS 'Contracts traded in the capacity window';
COMMENT ON COLUMN walkforward_results.open_interest IS 'Open interest at as_of, contracts';
COMMENT ON COLUMN walkforward_results.capacity_contracts IS 'Contracts the capacity cap allowed';
COMMENT ON COLUMN walkforward_results.size_limited_by IS 'What set the size: capacity, max_contracts or notional';
COMMENT ON COLUMN walkforward_results.computed_at IS 'UTC time the row was computed';

CREATE TABLE IF NOT EXISTS promotion_decisions (
    candidate    VARCHAR PRIMARY KEY,
    promoted     BOOLEAN NOT NULL,
    reasons      VARCHAR NOT NULL,               -- every failed gate's reason, "; "-joined
    trades       INTEGER NOT NULL,
    mean_return  DOUBLE,
    sharpe       DOUBLE,
    skew         DOUBLE,
    kurtosis     DOUBLE,
    psr          DOUBLE,
    dsr          DOUBLE,
    sr0          DOUBLE,                         -- expected maximum Sharpe of the effective trials
    n_trials     INTEGER NOT NULL,               -- candidates tried (the raw count)
    max_drawdown DOUBLE,
    min_trl      DOUBLE,
    n_trials_distinct   INTEGER,
    n_trials_effective  INTEGER,
    trial_cluster       INTEGER,
    pbo                 DOUBLE,
    pbo_combinations    INTEGER,
    cpcv_paths          INTEGER,
    cpcv_sharpe_mean    DOUBLE,
    cpcv_sharpe_sd      DOUBLE,
    cpcv_sharpe_min     DOUBLE,
    cpcv_sharpe_median  DOUBLE,
    cpcv_sharpe_max     DOUBLE,
    cpcv_share_positive DOUBLE,
    decided_at   TIMESTAMP NOT NULL
);
-- Warehouse files made before these columns existed get them here (a no-op otherwise); the table is
-- rebuilt whole by promotion_decisions.
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS n_trials_distinct INTEGER;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS n_trials_effective INTEGER;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS trial_cluster INTEGER;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS pbo DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS pbo_combinations INTEGER;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_paths INTEGER;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_sharpe_mean DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_sharpe_sd DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_sharpe_min DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_sharpe_median DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_sharpe_max DOUBLE;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS cpcv_share_positive DOUBLE;
COMMENT ON COLUMN promotion_decisions.n_trials_distinct IS 'Candidates with distinct out-of-sample return series (identical trades count once)';
COMMENT ON COLUMN promotion_decisions.n_trials_effective IS 'Effective independent trials: clusters of candidates whose returns correlate at least GateLimits.trial_min_correlation; the N of the deflated Sharpe';
COMMENT ON COLUMN promotion_decisions.trial_cluster IS 'The cluster (numbered from 1) this candidate counts in';
COMMENT ON COLUMN promotion_decisions.pbo IS 'Probability of backtest overfitting of the candidate family by CSCV (NULL when too few periods: the gate fails)';
COMMENT ON COLUMN promotion_decisions.pbo_combinations IS 'CSCV combinations behind the PBO (rows of promotion_pbo)';
COMMENT ON COLUMN promotion_decisions.cpcv_paths IS 'CPCV backtest paths of this candidate';
COMMENT ON COLUMN promotion_decisions.cpcv_sharpe_mean IS 'Mean of the per-trade Sharpe ratios of its CPCV paths';
COMMENT ON COLUMN promotion_decisions.cpcv_sharpe_sd IS 'Sample standard deviation of its CPCV path Sharpe ratios';
COMMENT ON COLUMN promotion_decisions.cpcv_sharpe_min IS 'Worst CPCV path Sharpe ratio';
COMMENT ON COLUMN promotion_decisions.cpcv_sharpe_median IS 'Median CPCV path Sharpe ratio';
COMMENT ON COLUMN promotion_decisions.cpcv_sharpe_max IS 'Best CPCV path Sharpe ratio';
COMMENT ON COLUMN promotion_decisions.cpcv_share_positive IS 'Share of CPCV paths with a positive Sharpe ratio';
COMMENT ON COLUMN promotion_decisions.candidate IS 'The candidate judged';
COMMENT ON COLUMN promotion_decisions.promoted IS 'True when every gate passed (docs/METHODS.md section 4)';
COMMENT ON COLUMN promotion_decisions.reasons IS 'Every failed gate''s reason, ;-joined, or all gates passed';
COMMENT ON COLUMN promotion_decisions.trades IS 'Out-of-sample trades';
COMMENT ON COLUMN promotion_decisions.mean_return IS 'Mean bankroll return per trade';
COMMENT ON COLUMN promotion_decisions.sharpe IS 'Sharpe ratio of the bankroll returns, per trade';
COMMENT ON COLUMN promotion_decisions.skew IS 'Skewness of the returns';
COMMENT ON COLUMN promotion_decisions.kurtosis IS 'Kurtosis of the returns';
COMMENT ON COLUMN promotion_decisions.psr IS 'Probabilistic Sharpe ratio against 0 (0-1)';
COMMENT ON COLUMN promotion_decisions.dsr IS 'Deflated Sharpe ratio over the effective number of independent trials (0-1)';
COMMENT ON COLUMN promotion_decisions.sr0 IS 'Expected maximum Sharpe of n_trials_effective independent trials under no skill';
COMMENT ON COLUMN promotion_decisions.n_trials IS 'Candidates tried (the raw count, kept beside n_trials_effective)';
COMMENT ON COLUMN promotion_decisions.max_drawdown IS 'Largest drawdown of the cumulative bankroll return (negative)';
COMMENT ON COLUMN promotion_decisions.min_trl IS 'Minimum track record length, trades';
COMMENT ON COLUMN promotion_decisions.decided_at IS 'UTC time of the decision';

CREATE TABLE IF NOT EXISTS promotion_gates (
    candidate  VARCHAR NOT NULL,
    gate       VARCHAR NOT NULL,
    value      DOUBLE,                           -- NULL when it could not be computed (the gate fails)
    limit_text VARCHAR NOT NULL,
    passed     BOOLEAN NOT NULL,
    reason     VARCHAR NOT NULL,
    PRIMARY KEY (candidate, gate)
);
COMMENT ON COLUMN promotion_gates.candidate IS 'The candidate judged';
COMMENT ON COLUMN promotion_gates.gate IS 'Gate name: min_trades, sharpe, psr, dsr, max_drawdown, or a stress gate per event type';
COMMENT ON COLUMN promotion_gates.value IS 'The candidate''s value for the gate (NULL when it could not be computed: the gate fails)';
COMMENT ON COLUMN promotion_gates.limit_text IS 'The gate''s limit, as text';
COMMENT ON COLUMN promotion_gates.passed IS 'True when the gate passed';
COMMENT ON COLUMN promotion_gates.reason IS 'Why the gate passed or failed';

-- Per-event-type performance behind the stress gate; a regime without trades has a row with count 0.
CREATE TABLE IF NOT EXISTS promotion_regimes (
    candidate    VARCHAR NOT NULL,
    event_type   VARCHAR NOT NULL,
    trade_count  INTEGER NOT NULL,
    mean_return  DOUBLE,
    sharpe       DOUBLE,
    max_drawdown DOUBLE,
    PRIMARY KEY (candidate, event_type)
);
COMMENT ON COLUMN promotion_regimes.candidate IS 'The candidate judged';
COMMENT ON COLUMN promotion_regimes.event_type IS 'The regime: one event type';
COMMENT ON COLUMN promotion_regimes.trade_count IS 'Trades in the regime (0: a row still exists)';
COMMENT ON COLUMN promotion_regimes.mean_return IS 'Mean bankroll return per trade in the regime';
COMMENT ON COLUMN promotion_regimes.sharpe IS 'Sharpe ratio in the regime';
COMMENT ON COLUMN promotion_regimes.max_drawdown IS 'Largest drawdown in the regime (negative)';

-- The implied distributions scored as forecasts of the first print, per event and horizon.
CREATE TABLE IF NOT EXISTS implied_forecast_scores (
    event_ticker VARCHAR NOT NULL,
    horizon_days INTEGER NOT NULL,
    event_type   VARCHAR NOT NULL,
    series_ticker VARCHAR,
    snapshot_ts  TIMESTAMP NOT NULL,
    first_print  DOUBLE NOT NULL,
    n_rungs      INTEGER NOT NULL,
    brier        DOUBLE,                         -- mean over the rungs P(X > k)
    log_loss     DOUBLE,
    crps         DOUBLE NOT NULL,
    pit          DOUBLE NOT NULL,
    computed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, horizon_days)
);
COMMENT ON COLUMN implied_forecast_scores.event_ticker IS 'The event scored';
COMMENT ON COLUMN implied_forecast_scores.horizon_days IS 'Days before the release the distribution was taken';
COMMENT ON COLUMN implied_forecast_scores.event_type IS 'The event''s type';
COMMENT ON COLUMN implied_forecast_scores.series_ticker IS 'The event''s series';
COMMENT ON COLUMN implied_forecast_scores.snapshot_ts IS 'UTC time of the snapshot scored';
COMMENT ON COLUMN implied_forecast_scores.first_print IS 'The first print scored against, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN implied_forecast_scores.n_rungs IS 'Ladder rungs scored';
COMMENT ON COLUMN implied_forecast_scores.brier IS 'Mean Brier score over the rungs'' P(X > k)';
COMMENT ON COLUMN implied_forecast_scores.log_loss IS 'Mean log loss over the rungs';
COMMENT ON COLUMN implied_forecast_scores.crps IS 'Continuous ranked probability score, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN implied_forecast_scores.pit IS 'Probability integral transform of the first print (0-1)';
COMMENT ON COLUMN implied_forecast_scores.computed_at IS 'UTC time the row was computed';

-- Each rung's forecast P(X > k) and what happened.
CREATE TABLE IF NOT EXISTS implied_rung_forecasts (
    event_ticker VARCHAR NOT NULL,
    horizon_days INTEGER NOT NULL,
    event_type   VARCHAR NOT NULL,
    strike       DOUBLE NOT NULL,
    forecast     DOUBLE NOT NULL,
    outcome      INTEGER NOT NULL CHECK (outcome IN (0, 1)),
    PRIMARY KEY (event_ticker, horizon_days, strike)
);

-- ============================== research: combinatorial purged CV, PBO, Kalshi's percentiles ==============================
-- docs/METHODS.md sections 3-5. Each table is rebuilt whole by its asset.

-- Every event's role in every CPCV split (train, test, purged, embargoed), why, and the path it feeds.
CREATE TABLE IF NOT EXISTS cpcv_splits (
    split         INTEGER NOT NULL,
    event_ticker  VARCHAR NOT NULL,
    event_type    VARCHAR NOT NULL,
    event_group   INTEGER NOT NULL,
    role          VARCHAR NOT NULL CHECK (role IN ('train', 'test', 'purged', 'embargoed')),
    reason        VARCHAR NOT NULL,
    path          INTEGER,
    t0            TIMESTAMP NOT NULL,
    t1            TIMESTAMP NOT NULL,
    t1_widened    TIMESTAMP NOT NULL,
    purge_days    INTEGER NOT NULL,
    release_time  TIMESTAMP NOT NULL,
    test_groups   VARCHAR NOT NULL,
    n_groups      INTEGER NOT NULL,
    embargo_hours DOUBLE NOT NULL,
    label_mode    VARCHAR NOT NULL,
    computed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (split, event_ticker)
);
COMMENT ON COLUMN cpcv_splits.split IS 'Split number: the index of its test-group combination in lexicographic order';
COMMENT ON COLUMN cpcv_splits.event_ticker IS 'The event';
COMMENT ON COLUMN cpcv_splits.event_type IS 'Its event type (sets its purge window)';
COMMENT ON COLUMN cpcv_splits.event_group IS 'Which of the N consecutive groups (release order) the event is in';
COMMENT ON COLUMN cpcv_splits.role IS 'train, test, purged (its widened interval meets a test event''s) or embargoed (starts within the embargo after a test group)';
COMMENT ON COLUMN cpcv_splits.reason IS 'Why the event has this role in this split';
COMMENT ON COLUMN cpcv_splits.path IS 'The backtest path this test event feeds (NULL unless role = test)';
COMMENT ON COLUMN cpcv_splits.t0 IS 'Earliest feature as_of of the event';
COMMENT ON COLUMN cpcv_splits.t1 IS 'When its label is known';
COMMENT ON COLUMN cpcv_splits.t1_widened IS 't1 plus the event type''s purge window';
COMMENT ON COLUMN cpcv_splits.purge_days IS 'The event type''s purge window in days';
COMMENT ON COLUMN cpcv_splits.release_time IS 'Release time (orders the events)';
COMMENT ON COLUMN cpcv_splits.test_groups IS 'The split''s test groups, comma-separated';
COMMENT ON COLUMN cpcv_splits.n_groups IS 'N, the number of groups';
COMMENT ON COLUMN cpcv_splits.embargo_hours IS 'The embargo after each test group, in hours';
COMMENT ON COLUMN cpcv_splits.label_mode IS 'Which label''s known-at time ends the label interval';
COMMENT ON COLUMN cpcv_splits.computed_at IS 'When the asset computed the row (UTC)';

-- CPCV out-of-sample trades: each candidate fitted on a split's train events and traded on its test events.
CREATE TABLE IF NOT EXISTS cpcv_trades (
    candidate          VARCHAR NOT NULL,
    split              INTEGER NOT NULL,
    path               INTEGER NOT NULL,
    event_ticker       VARCHAR NOT NULL,
    event_type         VARCHAR NOT NULL,
    release_time       TIMESTAMP NOT NULL,
    market_ticker      VARCHAR NOT NULL,
    side               VARCHAR NOT NULL CHECK (side IN ('yes', 'no')),
    price              DECIMAL(10, 4) NOT NULL,
    size               INTEGER NOT NULL CHECK (size > 0),
    fee                DECIMAL(18, 4) NOT NULL,
    pnl                DECIMAL(18, 4) NOT NULL,
    bankroll_return    DOUBLE NOT NULL,
    window_volume      DECIMAL(18, 2) NOT NULL,
    capacity_contracts INTEGER NOT NULL,
    computed_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (candidate, split, event_ticker, market_ticker)
);
COMMENT ON COLUMN cpcv_trades.candidate IS 'The candidate (walkforward_candidates)';
COMMENT ON COLUMN cpcv_trades.split IS 'The CPCV split whose train events fitted the model';
COMMENT ON COLUMN cpcv_trades.path IS 'The backtest path the trade counts in';
COMMENT ON COLUMN cpcv_trades.event_ticker IS 'A test event of the split';
COMMENT ON COLUMN cpcv_trades.event_type IS 'Its event type';
COMMENT ON COLUMN cpcv_trades.release_time IS 'Its release time (orders a path''s trades)';
COMMENT ON COLUMN cpcv_trades.market_ticker IS 'The contract traded';
COMMENT ON COLUMN cpcv_trades.side IS 'yes or no';
COMMENT ON COLUMN cpcv_trades.price IS 'Fill price in dollars (the best ask of the side bought)';
COMMENT ON COLUMN cpcv_trades.size IS 'Contracts';
COMMENT ON COLUMN cpcv_trades.fee IS 'Kalshi taker fee in dollars';
COMMENT ON COLUMN cpcv_trades.pnl IS 'Payout minus cost, settled on the first print, in dollars';
COMMENT ON COLUMN cpcv_trades.bankroll_return IS 'pnl / bankroll: the series a path''s Sharpe is taken over';
COMMENT ON COLUMN cpcv_trades.window_volume IS 'Contracts traded in the capacity window';
COMMENT ON COLUMN cpcv_trades.capacity_contracts IS 'The most the capacity rule allowed';
COMMENT ON COLUMN cpcv_trades.computed_at IS 'When the asset computed the row (UTC)';

-- Per candidate and CPCV path: the path's trades and their Sharpe ratio.
CREATE TABLE IF NOT EXISTS cpcv_paths (
    candidate     VARCHAR NOT NULL,
    path          INTEGER NOT NULL,
    trades        INTEGER NOT NULL,
    events_traded INTEGER NOT NULL,
    mean_return   DOUBLE,
    sharpe        DOUBLE,
    total_pnl     DOUBLE NOT NULL,
    computed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (candidate, path)
);
COMMENT ON COLUMN cpcv_paths.candidate IS 'The candidate';
COMMENT ON COLUMN cpcv_paths.path IS 'Path number (0 .. k C(N, k) / N - 1)';
COMMENT ON COLUMN cpcv_paths.trades IS 'Trades on the path (every event is tested once per path)';
COMMENT ON COLUMN cpcv_paths.events_traded IS 'Events with at least one trade on the path';
COMMENT ON COLUMN cpcv_paths.mean_return IS 'Mean bankroll return per trade (NULL without trades)';
COMMENT ON COLUMN cpcv_paths.sharpe IS 'Per-trade Sharpe ratio of the path in release order (NULL with fewer than two trades)';
COMMENT ON COLUMN cpcv_paths.total_pnl IS 'Summed P&L of the path in dollars';
COMMENT ON COLUMN cpcv_paths.computed_at IS 'When the asset computed the row (UTC)';

-- One row per CSCV combination behind the PBO: the in-sample choice and its out-of-sample logit.
CREATE TABLE IF NOT EXISTS promotion_pbo (
    combination          INTEGER PRIMARY KEY,
    in_sample_blocks     VARCHAR NOT NULL,
    selected             VARCHAR NOT NULL,
    in_sample_sharpe     DOUBLE,
    out_of_sample_sharpe DOUBLE,
    out_of_sample_rank   DOUBLE NOT NULL,
    relative_rank        DOUBLE NOT NULL,
    logit                DOUBLE NOT NULL,
    decided_at           TIMESTAMP NOT NULL
);
COMMENT ON COLUMN promotion_pbo.combination IS 'Index of the combination of S/2 in-sample blocks';
COMMENT ON COLUMN promotion_pbo.in_sample_blocks IS 'The in-sample row blocks, comma-separated (the rest are out of sample)';
COMMENT ON COLUMN promotion_pbo.selected IS 'The candidate with the best in-sample Sharpe';
COMMENT ON COLUMN promotion_pbo.in_sample_sharpe IS 'Its in-sample Sharpe per event';
COMMENT ON COLUMN promotion_pbo.out_of_sample_sharpe IS 'Its out-of-sample Sharpe per event';
COMMENT ON COLUMN promotion_pbo.out_of_sample_rank IS 'Its out-of-sample rank among the candidates (1 = worst, ties averaged)';
COMMENT ON COLUMN promotion_pbo.relative_rank IS 'w = rank / (N + 1)';
COMMENT ON COLUMN promotion_pbo.logit IS 'ln(w / (1 - w)); PBO is the share of combinations with logit <= 0';
COMMENT ON COLUMN promotion_pbo.decided_at IS 'When promotion_decisions computed it (UTC)';

-- Kalshi's forecast percentiles against ours at the same time, summarised per event type and percentile.
CREATE TABLE IF NOT EXISTS kalshi_percentile_gaps (
    event_type       VARCHAR NOT NULL,
    percentile       INTEGER NOT NULL,
    snapshots        INTEGER NOT NULL,
    events           INTEGER NOT NULL,
    mean_gap         DOUBLE,
    median_gap       DOUBLE,
    mean_abs_gap     DOUBLE,
    median_abs_gap_sd DOUBLE,
    computed_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (event_type, percentile)
);
COMMENT ON COLUMN kalshi_percentile_gaps.event_type IS 'Event type';
COMMENT ON COLUMN kalshi_percentile_gaps.percentile IS 'Kalshi''s percentile in 0..10000 (5000 = the median)';
COMMENT ON COLUMN kalshi_percentile_gaps.snapshots IS 'Snapshots compared (ours ok, Kalshi''s point no older than the quote staleness limit)';
COMMENT ON COLUMN kalshi_percentile_gaps.events IS 'Events among them';
COMMENT ON COLUMN kalshi_percentile_gaps.mean_gap IS 'Mean of our quantile minus Kalshi''s, in the series'' units';
COMMENT ON COLUMN kalshi_percentile_gaps.median_gap IS 'Median of our quantile minus Kalshi''s';
COMMENT ON COLUMN kalshi_percentile_gaps.mean_abs_gap IS 'Mean absolute gap, in the series'' units';
COMMENT ON COLUMN kalshi_percentile_gaps.median_abs_gap_sd IS 'Median absolute gap in units of our implied standard deviation';
COMMENT ON COLUMN kalshi_percentile_gaps.computed_at IS 'When the asset computed the row (UTC)';

-- Per event and feature horizon: does the first print fall inside Kalshi's 10-90 band, and inside ours?
CREATE TABLE IF NOT EXISTS kalshi_band_coverage (
    event_ticker  VARCHAR NOT NULL,
    horizon_days  INTEGER NOT NULL,
    event_type    VARCHAR NOT NULL,
    snapshot_ts   TIMESTAMP NOT NULL,
    first_print   DOUBLE NOT NULL,
    ours_q10      DOUBLE NOT NULL,
    ours_q90      DOUBLE NOT NULL,
    kalshi_p10    DOUBLE NOT NULL,
    kalshi_p90    DOUBLE NOT NULL,
    inside_ours   BOOLEAN NOT NULL,
    inside_kalshi BOOLEAN NOT NULL,
    computed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (event_ticker, horizon_days)
);
COMMENT ON COLUMN kalshi_band_coverage.event_ticker IS 'The event';
COMMENT ON COLUMN kalshi_band_coverage.horizon_days IS 'The feature horizon (event_features)';
COMMENT ON COLUMN kalshi_band_coverage.event_type IS 'Its event type';
COMMENT ON COLUMN kalshi_band_coverage.snapshot_ts IS 'The snapshot the features used: both bands are read at this time';
COMMENT ON COLUMN kalshi_band_coverage.first_print IS 'The first print the band is judged on';
COMMENT ON COLUMN kalshi_band_coverage.ours_q10 IS 'Our implied 10th percentile';
COMMENT ON COLUMN kalshi_band_coverage.ours_q90 IS 'Our implied 90th percentile';
COMMENT ON COLUMN kalshi_band_coverage.kalshi_p10 IS 'Kalshi''s 10th forecast percentile at the same time';
COMMENT ON COLUMN kalshi_band_coverage.kalshi_p90 IS 'Kalshi''s 90th forecast percentile at the same time';
COMMENT ON COLUMN kalshi_band_coverage.inside_ours IS 'ours_q10 <= first_print <= ours_q90';
COMMENT ON COLUMN kalshi_band_coverage.inside_kalshi IS 'kalshi_p10 <= first_print <= kalshi_p90';
COMMENT ON COLUMN kalshi_band_coverage.computed_at IS 'When the asset computed the row (UTC)';
COMMENT ON COLUMN implied_rung_forecasts.event_ticker IS 'The event';
COMMENT ON COLUMN implied_rung_forecasts.horizon_days IS 'Days before the release';
COMMENT ON COLUMN implied_rung_forecasts.event_type IS 'The event''s type';
COMMENT ON COLUMN implied_rung_forecasts.strike IS 'The rung''s strike k, in the event''s value units (percent, jobs or basis points by series)';
COMMENT ON COLUMN implied_rung_forecasts.forecast IS 'Forecast P(X > k)';
COMMENT ON COLUMN implied_rung_forecasts.outcome IS '1 when the first print was above k, else 0';

-- ============================== ingest: trades ==============================
-- Every public trade, from Kalshi's live (/markets/trades) and historical (/historical/trades) tiers.
-- Partitioned by day of `ts`; keyed by Kalshi's trade_id, so a replay leaves the same rows.
CREATE TABLE IF NOT EXISTS kalshi_trades (
    trade_id       VARCHAR NOT NULL,
    market_ticker  VARCHAR NOT NULL,
    event_ticker   VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    yes_price      DECIMAL(10, 4) NOT NULL,
    count          DECIMAL(18, 2) NOT NULL,
    taker_side     VARCHAR NOT NULL,
    PRIMARY KEY (trade_id)  -- key checked on write, not indexed
);
COMMENT ON COLUMN kalshi_trades.trade_id IS 'Kalshi''s id of the trade (unique across tiers)';
COMMENT ON COLUMN kalshi_trades.market_ticker IS 'The market traded (kalshi_markets.market_ticker)';
COMMENT ON COLUMN kalshi_trades.event_ticker IS 'The market''s event (kalshi_events.event_ticker)';
COMMENT ON COLUMN kalshi_trades.ts IS 'When the trade was executed (created_time), UTC';
COMMENT ON COLUMN kalshi_trades.yes_price IS 'Price of the YES side in dollars; the NO side paid 1 - yes_price';
COMMENT ON COLUMN kalshi_trades.count IS 'Contracts traded';
COMMENT ON COLUMN kalshi_trades.taker_side IS 'Side of the taker: yes or no';
