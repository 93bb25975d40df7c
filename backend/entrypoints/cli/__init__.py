"""Command-line entry points (`hexbank ...`); each topic lives in its own module."""
