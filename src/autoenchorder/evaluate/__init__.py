"""Evaluate stage of autoenchorder."""
