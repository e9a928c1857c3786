"""SLA timers per case and phase, kept in the database so a restart loses none."""
