"""``marsad web``: Prometheus metrics, health endpoints and the live alerts page (issue 8)."""
