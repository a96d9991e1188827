"""The Dagster assets, one module per stage."""

import warnings

import dagster as dg

# Mail days and the dbt baselines fill a range of days in one run (BackfillPolicy.single_run):
# Dagster marks the parameter beta, and says so once per process for every asset that uses it.
# We depend on it deliberately (one dbt build over a range, not one per day) and pin Dagster, so
# the notice is silenced here by its exact text; any other beta or deprecation warning shows.
warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function", category=dg.BetaWarning
)
