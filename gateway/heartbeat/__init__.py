"""Each gateway's periodic heartbeat in the store: who is alive and how it is doing."""
