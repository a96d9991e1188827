"""Model: training helpers, evaluation, drift, pictures, champion/challenger comparisons,
real-mail evaluation."""
