"""Ids the job tables cannot hold are a usage error (exit 2, one line), not a driver traceback."""

from __future__ import annotations

import pytest

from cli import main


@pytest.mark.parametrize("args", [["jobs", "show", str(10**20)], ["jobs", "cancel", "0"],
                                  ["jobs", "list", "--offset", str(10**20)],
                                  ["ops", "requeue", "--failed", str(2**31)]])
def test_ids_the_database_cannot_hold_are_refused_before_any_query(capsys, args):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "is not in the range" in err and "Traceback" not in err
