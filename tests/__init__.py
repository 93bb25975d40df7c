"""hexbank's test suite."""
