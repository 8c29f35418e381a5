"""End-to-end: the web front end and JSON API on real Gunicorn, a worker, Postgres and InfluxDB."""
