"""Train stage of autoenchorder."""
