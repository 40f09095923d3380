"""Dataset sources: one module per source, each returning a ``PopularityDataset``."""
