"""Test support for projects that use consul-sim: a pytest plugin and (later) strategies."""
