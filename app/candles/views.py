"""Upload a CSV of candles for a symbol and timeframe: the web's ``quantgrid candles import``.

The same function imports (quantgrid.candles.importing), so the same guarantees hold: every line
is checked before anything is written, and a refused file leaves the store as it was. Only admins
and users with the data role may upload. The body may be far larger than the app's usual limit
(MAX_CONTENT_LENGTH), so this view sets its own (UPLOAD_MAX_MB) before anything reads the body;
that is also why it checks the CSRF token itself, after the permission and the limit, instead of
CSRFProtect's check before every view (which reads the body under the usual limit).
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import backend, csrf
from quantgrid.candles.errors import CandleFileError
from quantgrid.candles.importing import Imported, import_csv
from quantgrid.candles.store import fmt_ns
from quantgrid.candles.symbols import validate_symbol, validate_timeframe
from quantgrid.errors import InvalidInput

bp = Blueprint("candles", __name__, url_prefix="/candles")

WHO_MAY = ("Only admins and users with the data role may upload candles; an admin can give you"
           " the role (quantgrid users set-role NAME data).")


def may_upload(user) -> None:
    """Refuse (403) a user who is neither an admin nor in the data role."""
    if not user.may_upload_candles:
        abort(403, WHO_MAY)


def _may_upload() -> None:
    may_upload(current_user)


def _limit_mb() -> int:
    return backend.settings.upload_max_mb


def allow_upload_size() -> None:
    """Let this request's body be as large as an upload may be (UPLOAD_MAX_MB)."""
    request.max_content_length = _limit_mb() * 1024 * 1024


def too_large_message() -> str:
    return (f"The file is too large: an upload may be at most {_limit_mb()} MB. Split it into"
            " several files (by date), or import it with `quantgrid candles import`.")


def import_upload(source, symbol: str, timeframe: str) -> Imported:
    """Import ``source`` as the CLI does, then show the new series to this process's forms."""
    done = import_csv(backend.store, source, symbol, timeframe)
    # This process's inventory sees the new series at once (the job forms list it); other
    # processes within the inventory's max_age, as after the CLI's import.
    backend.inventory.invalidate()
    return done


def _page(status: int = 200, **ctx):
    ctx.setdefault("values", {})
    ctx.setdefault("errors", {})
    return render_template("candles/upload.html", limit_mb=_limit_mb(),
                           series=backend.inventory.series(), fmt_ns=fmt_ns, **ctx), status


@bp.get("/upload")
@login_required
def upload_form():
    _may_upload()
    return _page()


@bp.post("/upload")
@csrf.exempt  # checked below, once the body may be as large as an upload's
@login_required
def upload():
    _may_upload()
    allow_upload_size()
    csrf.protect()
    values = {k: request.form.get(k, "").strip() for k in ("symbol", "timeframe")}
    errors = _field_errors(values)
    file = request.files.get("file")
    if file is None or not file.filename:
        errors["file"] = "Choose a CSV file."
    if errors:
        return _page(400, values=values, errors=errors)
    source = io.BytesIO(file.stream.read())
    source.name = file.filename  # how the errors name the file
    try:
        done = import_upload(source, values["symbol"], values["timeframe"])
    except CandleFileError as err:
        return _page(400, values=values, problem=err)
    return _page(200, values=values, done=done)


def _field_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    for name, check in (("symbol", validate_symbol), ("timeframe", validate_timeframe)):
        try:
            check(values[name])
        except InvalidInput as err:
            errors[name] = err.message
    return errors


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_err):
    return _page(413, too_large=too_large_message())
