"""Pydantic models of Consul objects with Consul's exact JSON casing, one module per area."""
