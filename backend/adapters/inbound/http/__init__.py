"""HTTP inbound adapter: Flask blueprints, problem details and cross-cutting middleware."""
