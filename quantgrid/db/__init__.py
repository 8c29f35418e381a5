"""The data layer: models and the repository functions that are the only place SQL is issued."""

# Importing the models here registers the job tables on ``Base.metadata`` for Alembic's env.py.
from quantgrid.db import models as models  # noqa: E402
