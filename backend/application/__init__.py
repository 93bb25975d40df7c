"""Use cases of hexbank: commands, queries, projections, and the ports they speak through."""
