"""The checks of a site directory, one module per family; :mod:`contracts.site.loader` runs them in order."""
