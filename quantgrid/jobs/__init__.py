"""The job service layer: submitting, controlling and running backtests and sweep chunks.

``service.JobService`` is what the web app, the API and the CLI call; ``run`` holds one function
per job kind that does a whole execution given a job id (the Celery tasks in ``tasks/`` wrap
them); ``publisher`` is the small interface through which the service enqueues. Nothing here
imports Celery, Flask or anything above this layer.
"""
