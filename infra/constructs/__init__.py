"""Constructs with one job each; the stack wires them together and does the grants."""
