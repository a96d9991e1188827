"""Serving: the artifact bundle, stores, the registry, explanations and the online scorer."""
