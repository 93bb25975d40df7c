"""Worker entry points: rq job functions and the background loops (relay, sweeper)."""
