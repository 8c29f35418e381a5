"""The strategy editor's pages, and the backtest and sweep forms and job pages with a user's
saved strategy: what renders, whose strategies a user sees, saving and its errors, CSRF."""

from __future__ import annotations

import re

from engine.lang import EXAMPLES, example
from quantgrid.db import sweeps
from tests.unit.app.conftest import csrf_of, finish, sign_in
from tests.unit.app.test_pages import FORM, post_form

SOURCE = example("sma_cross")
BROKEN = SOURCE.replace("sma(close, fast)", "smaa(close, fast)")
BROKEN_LINE = next(n for n, text in enumerate(BROKEN.splitlines(), 1) if "smaa" in text)


def _save(client, name="my_cross", source=SOURCE):
    r = post_form(client, "/strategies/new", {"name": name, "source": source})
    assert r.status_code == 302, r.get_data(as_text=True)
    return r


def test_strategy_pages_need_sign_in(app):
    c = app.test_client()
    for path in ("/strategies", "/strategies/new", "/strategies/my_cross/edit"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_the_editor_offers_the_built_ins_as_templates(client):
    page = client.get("/strategies/new").get_data(as_text=True)
    for name in EXAMPLES:
        assert f"<option {'selected' if name == EXAMPLES[0] else ''}>{name}</option>" in page
    assert 'id="source"' in page and "vendor/codemirror.js" in page
    assert "js/strategy-editor.js" in page and "<script>" not in page  # the CSP allows no inline
    macd = client.get("/strategies/new?template=macd").get_data(as_text=True)
    assert _textarea(macd) == example("macd")


def test_the_editors_styles_are_admitted_by_a_nonce_of_its_own_response(client):
    r = client.get("/strategies/new")
    nonce = re.search(r'data-style-nonce="([^"]+)"', r.get_data(as_text=True)).group(1)
    assert "style-src 'self' 'sha256-" in r.headers["Content-Security-Policy"]
    assert f"'nonce-{nonce}'" in r.headers["Content-Security-Policy"]
    again = client.get("/strategies/new").headers["Content-Security-Policy"]
    assert nonce not in again and "'nonce-" in again
    assert "'nonce-" not in client.get("/backtests/new").headers["Content-Security-Policy"]


def _textarea(page: str) -> str:
    import html

    match = re.search(r'<textarea name="source"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the page has no source field"
    return html.unescape(match.group(1))


def test_save_then_a_new_version_then_delete(client):
    r = _save(client)
    assert r.headers["Location"].endswith("/strategies/my_cross/edit")
    page = client.get("/strategies/my_cross/edit").get_data(as_text=True)
    assert "Saved my_cross version 1." in page and _textarea(page) == SOURCE
    assert "Save as version 2" in page and "/backtests/new?strategy=my_cross" in page

    changed = SOURCE + "\n# slower\n"
    r = post_form(client, "/strategies/my_cross/edit", {"source": changed})
    assert r.status_code == 302
    page = client.get("/strategies/my_cross/edit").get_data(as_text=True)
    assert _textarea(page) == changed and "version 2" in page
    old = client.get("/strategies/my_cross/edit?version=1").get_data(as_text=True)
    assert _textarea(old) == SOURCE and "Showing version 1" in old
    assert client.get("/strategies/my_cross/edit?version=9").status_code == 404

    listing = client.get("/strategies").get_data(as_text=True)
    assert 'data-name="my_cross"' in listing and "fast, slow" in listing
    token = csrf_of(listing)
    r = client.post("/strategies/my_cross/delete", data={"csrf_token": token})
    assert r.status_code == 302
    assert "Deleted my_cross (2 versions)" in client.get("/strategies").get_data(as_text=True)
    assert client.get("/strategies/my_cross/edit").status_code == 404


def test_a_source_with_mistakes_is_not_saved_and_each_is_listed_at_its_place(client):
    r = post_form(client, "/strategies/new", {"name": "my_cross", "source": BROKEN})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Not saved: the source has 1 mistake" in page
    assert f'data-line="{BROKEN_LINE}"' in page and "smaa" in page
    assert _textarea(page) == BROKEN  # the unsaved text is kept
    assert 'value="my_cross"' in page
    assert client.get("/strategies/my_cross/edit").status_code == 404


def test_a_bad_or_taken_name_says_what_to_do(client):
    r = post_form(client, "/strategies/new", {"name": "sma_cross", "source": SOURCE})
    assert r.status_code == 400 and "built-in strategy" in r.get_data(as_text=True)
    r = post_form(client, "/strategies/new", {"name": "1x", "source": SOURCE})
    assert r.status_code == 400 and "must start with a letter" in r.get_data(as_text=True)
    _save(client)
    r = post_form(client, "/strategies/new", {"name": "my_cross", "source": SOURCE})
    page = r.get_data(as_text=True)
    assert r.status_code == 409 and 'class="field-error" data-field="name"' in page
    assert "save a new version" in page


def test_a_user_sees_and_edits_only_their_own_strategies(app, client, bob):
    _save(client)
    other = app.test_client()
    assert sign_in(other, "bob").status_code == 302
    assert "my_cross" not in other.get("/strategies").get_data(as_text=True)
    assert other.get("/strategies/my_cross/edit").status_code == 404
    assert 'value="my_cross"' not in other.get("/backtests/new").get_data(as_text=True)
    r = post_form(other, "/strategies/my_cross/edit", {"source": SOURCE + "\n"})
    assert r.status_code == 404
    r = post_form(other, "/backtests/new", {**_form("my_cross")})
    assert r.status_code == 400 and 'data-field="strategy"' in r.get_data(as_text=True)


def test_an_admin_lists_only_their_own_strategies_in_the_forms(app, client, admin):
    _save(client)
    boss = app.test_client()
    assert sign_in(boss, "root").status_code == 302
    assert 'value="my_cross"' not in boss.get("/backtests/new").get_data(as_text=True)


def test_strategy_posts_need_the_csrf_token(client):
    r = client.post("/strategies/new", data={"name": "my_cross", "source": SOURCE})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    _save(client)
    assert client.post("/strategies/my_cross/edit", data={"source": SOURCE}).status_code == 400
    assert client.post("/strategies/my_cross/delete").status_code == 400
    assert client.get("/strategies/my_cross/edit").status_code == 200


def _form(strategy: str, **params) -> dict:
    form = {k: v for k, v in FORM.items() if not k.startswith("p.")}
    return {**form, "strategy": strategy, **{f"p.{strategy}.{k}": v for k, v in params.items()}}


def test_the_backtest_form_lists_saved_strategies_with_their_parameter_fields(client):
    _save(client)
    page = client.get("/backtests/new?strategy=my_cross").get_data(as_text=True)
    assert '<optgroup label="Your strategies">' in page
    assert '<option value="my_cross" selected>my_cross (version 1)</option>' in page
    assert 'name="p.my_cross.fast"' in page and 'name="p.my_cross.slow"' in page
    sweep = client.get("/sweeps/new?strategy=my_cross").get_data(as_text=True)
    assert 'name="g.my_cross.fast"' in sweep and '<option value="my_cross" selected>' in sweep


def test_a_backtest_of_a_saved_strategy_shows_the_version_it_ran(client, db, store):
    _save(client)
    r = post_form(client, "/backtests/new", _form("my_cross", fast="5", slow="20"))
    assert r.status_code == 302, r.get_data(as_text=True)
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    finish(db, store, job_id)
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    assert "Ran my_cross version 1" in page and "sma(close, fast)" in page
    assert "/strategies/my_cross/edit?version=1" in page
    # A later version does not change what the job shows it ran.
    post_form(client, "/strategies/my_cross/edit", {"source": SOURCE + "\n# v2\n"})
    assert "Ran my_cross version 1" in client.get(f"/backtests/{job_id}").get_data(as_text=True)


def test_a_saved_strategys_bad_parameter_is_a_field_error(client):
    _save(client)
    r = post_form(client, "/backtests/new", _form("my_cross", fast="40", slow="20"))
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'class="field-error" data-field="params.' in page
    r = post_form(client, "/backtests/new", _form("no_such_strategy"))
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'data-field="strategy"' in page and "no_such_strategy" in page


def test_a_sweep_of_a_saved_strategy_shows_the_version_it_ran(client):
    _save(client)
    form = {**_form("my_cross"), "g.my_cross.fast": "5,10", "g.my_cross.slow": "20:40:10",
            "metric": "sharpe"}
    r = post_form(client, "/sweeps/new", form)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Ran my_cross version 1" in page
    bad = {**form, "g.my_cross.fast": "a:b"}
    r = post_form(client, "/sweeps/new", bad)
    assert r.status_code == 400 and 'data-field="grid.fast"' in r.get_data(as_text=True)


def test_a_deleted_strategys_job_still_shows_its_source(client):
    _save(client)
    r = post_form(client, "/backtests/new", _form("my_cross"))
    job_url = r.headers["Location"]
    token = csrf_of(client.get("/strategies").get_data(as_text=True))
    client.post("/strategies/my_cross/delete", data={"csrf_token": token})
    page = client.get(job_url).get_data(as_text=True)
    assert "sma(close, fast)" in page and "deleted since" in page
    assert "/strategies/my_cross/edit" not in page


def test_a_saved_strategy_sweeps_row_opens_a_backtest_of_the_same_version(client, db):
    _save(client)
    form = {**_form("my_cross"), "g.my_cross.fast": "5,10", "g.my_cross.slow": "20",
            "metric": "sharpe"}
    sweep_url = post_form(client, "/sweeps/new", form).headers["Location"]
    sweep_id = int(sweep_url.rsplit("/", 1)[1])
    with db.write() as s:
        for chunk in sweeps.list_chunks(s, sweep_id):
            assert sweeps.start_chunk(s, chunk.id, "test-worker") is not None
            scores = [1.0] * (chunk.last - chunk.first)
            assert sweeps.finish_chunk(s, chunk.id, {"sharpe": scores, "return_pct": scores})
    post_form(client, "/strategies/my_cross/edit", {"source": SOURCE + "\n# v2\n"})
    page = client.get(sweep_url).get_data(as_text=True)
    action = re.search(r'action="(/sweeps/\d+/rows/\d+/backtest)"', page).group(1)
    opened = client.post(action, data={"csrf_token": csrf_of(page)})
    assert opened.status_code == 303 and "/backtests/" in opened.headers["Location"]
    job_page = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "Ran my_cross version 1" in job_page
    again = client.post(action, data={"csrf_token": csrf_of(page)})
    assert again.headers["Location"] == opened.headers["Location"]  # the same backtest, reused
