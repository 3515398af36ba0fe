"""Faust agents, one module each, named for what they consume."""
