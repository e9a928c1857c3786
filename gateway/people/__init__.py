"""People and machines that use the API: accounts, roles, areas, sessions, API tokens, security log."""
