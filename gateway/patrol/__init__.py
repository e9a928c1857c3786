"""Daily patrol routes, inspections folded into them, and patrol tracks."""
