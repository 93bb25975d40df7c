"""In-memory twins of the outbound ports, for fast application tests and simulations."""
