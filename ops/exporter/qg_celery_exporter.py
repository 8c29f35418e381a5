"""Run prometheus-exporter-celery (in ``.venv-exporter``) against QuantGrid's ``qgpg`` broker.

The exporter resolves the broker URL through kombu, which knows ``qgpg`` only once
``qgpg`` is imported; this wrapper imports it (from ``QG_ROOT``, appended to the path
so that nothing of the project shadows the exporter's own top-level package ``src``) and hands
over to the exporter's command line. Usage: ``python -m qg_celery_exporter --broker-url ...``.
"""

import os
import sys

sys.path.append(
    os.environ.get("QG_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
)

from src.cli import cli  # noqa: E402

import qgpg  # noqa: E402,F401  (registers the qgpg scheme with kombu)

if __name__ == "__main__":
    sys.exit(cli())
