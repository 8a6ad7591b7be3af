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

CREATE TABLE IF NOT EXISTS calibration_scores (
    horizon_hours INTEGER PRIMARY KEY,
    n_contracts   INTEGER NOT NULL,
    brier         DOUBLE NOT NULL,
    log_loss      DOUBLE NOT NULL,
    ece           DOUBLE NOT NULL,
    computed_at   TIMESTAMP NOT NULL
);

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
    PRIMARY KEY (event_ticker, ts, percentile)
);

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
    PRIMARY KEY (event_ticker, snapshot_ts)
);

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
    PRIMARY KEY (event_ticker, snapshot_ts, bin_index)
);

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
-- Whether the strategy was promoted when it decided (false: paper-traded while incubating).
ALTER TABLE paper_orders ADD COLUMN IF NOT EXISTS promoted BOOLEAN;

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

-- ============================== research ==============================
-- Purged event features, walk-forward folds and out-of-sample traces, promotion decisions, and scores of
-- the implied distributions as forecasts (METHODS.md sections 3-6). Each table is rebuilt whole by its asset.

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

-- Every event's role in every fold, and why (train, test, purged, embargoed, excluded).
CREATE TABLE IF NOT EXISTS walkforward_folds (
    fold          INTEGER NOT NULL,
    event_ticker  VARCHAR NOT NULL,
    event_type    VARCHAR NOT NULL,
    role          VARCHAR NOT NULL CHECK (role IN ('train', 'test', 'purged', 'embargoed', 'excluded')),
    reason        VARCHAR NOT NULL,
    t0            TIMESTAMP NOT NULL,   -- earliest feature as_of of the event
    t1            TIMESTAMP NOT NULL,   -- when its label is known
    t1_widened    TIMESTAMP NOT NULL,   -- t1 + the event type's purge window
    purge_days    INTEGER NOT NULL,
    release_time  TIMESTAMP NOT NULL,
    test_start    TIMESTAMP NOT NULL,
    test_end      TIMESTAMP NOT NULL,
    mode          VARCHAR NOT NULL,
    embargo_hours DOUBLE NOT NULL,
    label_mode    VARCHAR NOT NULL,
    computed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (fold, event_ticker)
);

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
    sr0          DOUBLE,                         -- expected maximum Sharpe of the N candidates tried
    n_trials     INTEGER NOT NULL,
    max_drawdown DOUBLE,
    min_trl      DOUBLE,
    decided_at   TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS promotion_gates (
    candidate  VARCHAR NOT NULL,
    gate       VARCHAR NOT NULL,
    value      DOUBLE,                           -- NULL when it could not be computed (the gate fails)
    limit_text VARCHAR NOT NULL,
    passed     BOOLEAN NOT NULL,
    reason     VARCHAR NOT NULL,
    PRIMARY KEY (candidate, gate)
);

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

-- ============================== ingest: trades ==============================
-- Every public trade, from Kalshi's live (/markets/trades) and historical (/historical/trades) tiers.
-- Partitioned by day of `ts`; keyed by Kalshi's trade_id, so a replay leaves the same rows.
CREATE TABLE IF NOT EXISTS kalshi_trades (
    trade_id       VARCHAR PRIMARY KEY,
    market_ticker  VARCHAR NOT NULL,
    event_ticker   VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    yes_price      DECIMAL(10, 4) NOT NULL,
    count          DECIMAL(18, 2) NOT NULL,
    taker_side     VARCHAR NOT NULL
);
COMMENT ON COLUMN kalshi_trades.trade_id IS 'Kalshi''s id of the trade (unique across tiers)';
COMMENT ON COLUMN kalshi_trades.market_ticker IS 'The market traded (kalshi_markets.market_ticker)';
COMMENT ON COLUMN kalshi_trades.event_ticker IS 'The market''s event (kalshi_events.event_ticker)';
COMMENT ON COLUMN kalshi_trades.ts IS 'When the trade was executed (created_time), UTC';
COMMENT ON COLUMN kalshi_trades.yes_price IS 'Price of the YES side in dollars; the NO side paid 1 - yes_price';
COMMENT ON COLUMN kalshi_trades.count IS 'Contracts traded';
COMMENT ON COLUMN kalshi_trades.taker_side IS 'Side of the taker: yes or no';
