"""CLI sub-commands, one module each; see :mod:`autoenchorder.cli`."""
