"""GridWatch edge node: cameras and sensors in, hazard events out (via the outbox)."""
