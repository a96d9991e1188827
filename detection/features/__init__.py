"""Features: content signals, behavioural features (online), domains, the feature vector."""
