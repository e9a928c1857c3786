"""GridWatch gateway: MQTT ingest, cases, dispatch, SLA, notification."""
