"""Data: the feature store, corpus extraction, dataset sources and the dataset type."""
