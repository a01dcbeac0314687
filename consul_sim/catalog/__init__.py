"""Catalog rules: what a register or deregister may do, and the health and catalog reads."""
