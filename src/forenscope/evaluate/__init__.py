"""Metrics, evaluation runs over datasets, result files."""
