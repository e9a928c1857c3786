"""What the tests share: launchers (brokers, gateways, edge nodes, browsers, RTSP cameras), stores,
sites, media, clocks and builders. Test modules and conftests import from here, never from each other
(tests/test_architecture.py); conftests only declare fixtures, and fixtures used across directories
live in tests/support/plugins (registered by tests/conftest.py)."""
