"""The device registry: every edge node, camera and sensor, its serial, where it was put and how it is."""
