"""QuantGrid's shared layers: configuration, errors, candle store, data layer, broker and CLI."""

import os as _os

# libpq negotiates GSSAPI encryption before every connection (gssencmode=prefer), taking a
# Kerberos library mutex. Celery's prefork workers fork while other threads (the broker's keeper,
# the /metrics collectors) connect, and a child forked inside that window inherits the mutex
# held and blocks for ever in its first connect: a pool process that never runs its task and a
# worker that can be neither drained nor warm-stopped. Nothing here uses GSSAPI; a deployment
# that does sets PGGSSENCMODE itself.
_os.environ.setdefault("PGGSSENCMODE", "disable")
