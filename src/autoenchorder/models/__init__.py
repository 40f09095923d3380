"""Models stage of autoenchorder."""
