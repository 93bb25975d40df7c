"""hexbank: event-sourced accounts and transfers in hexagonal form on Flask."""
