"""Retention: evidence snapshots and dead letters are kept for a number of days and within
a disk quota, the oldest going first; a case's evidence stays while the case is open."""
