"""Performance records per worker and grid (the quantified scoring grid offices use)."""
