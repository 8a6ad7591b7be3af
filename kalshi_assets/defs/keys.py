"""Every asset's key, named once: dependencies, checks and sensors refer to assets through these constants
(never a bare string, never a key redefined per module), so a renamed asset breaks at import, not at run.

tests/defs/test_keys.py holds the list equal to the code location's assets.
"""

import dagster as dg

# ingest
KALSHI_SERIES = dg.AssetKey("kalshi_series")
KALSHI_EVENTS = dg.AssetKey("kalshi_events")
KALSHI_MARKETS = dg.AssetKey("kalshi_markets")
KALSHI_QUOTES = dg.AssetKey("kalshi_quotes")
KALSHI_TRADES = dg.AssetKey("kalshi_trades")
KALSHI_FORECAST_PERCENTILES = dg.AssetKey("kalshi_forecast_percentiles")

# outcomes
OUTCOMES_FIRST_PRINT = dg.AssetKey("outcomes_first_print")
OUTCOMES_REVISIONS = dg.AssetKey("outcomes_revisions")
OUTCOMES_LATEST = dg.AssetKey("outcomes_latest")
EVENT_LABELS = dg.AssetKey("event_labels")

# distributions
DISTRIBUTION_SNAPSHOTS = dg.AssetKey("distribution_snapshots")

# research
EVENT_FEATURES = dg.AssetKey("event_features")
WALKFORWARD_FOLDS = dg.AssetKey("walkforward_folds")
CPCV_SPLITS = dg.AssetKey("cpcv_splits")
WALKFORWARD_RESULTS = dg.AssetKey("walkforward_results")
CPCV_PATHS = dg.AssetKey("cpcv_paths")
PROMOTION_DECISIONS = dg.AssetKey("promotion_decisions")
IMPLIED_FORECAST_SCORES = dg.AssetKey("implied_forecast_scores")
KALSHI_PERCENTILE_COMPARISON = dg.AssetKey("kalshi_percentile_comparison")

# trading
PAPER_ORDERS = dg.AssetKey("paper_orders")
PAPER_POSITIONS = dg.AssetKey("paper_positions")
PAPER_PNL = dg.AssetKey("paper_pnl")

# monitoring
AUDIT_LOG_HEALTH = dg.AssetKey("audit_log_health")
KALSHI_API_BREAKERS = dg.AssetKey("kalshi_api_breakers")

# reports
QUANTILE_FAN = dg.AssetKey("quantile_fan")
CALIBRATION_CURVE = dg.AssetKey("calibration_curve")
