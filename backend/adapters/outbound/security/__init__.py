"""Password hashing and token signing adapters."""
