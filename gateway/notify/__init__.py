"""Notifications to people outside the gateway: webhook deliveries with retries."""
