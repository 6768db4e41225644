"""Pure functions on arrays: residuals, error levels, block statistics. No I/O, no models."""
