"""Security of the web app and API against real PostgreSQL and influxd."""
