"""The built-in enterprise mail simulator."""
