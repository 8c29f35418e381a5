"""Running the ``quantgrid`` CLI in the test's own process, as a user's shell would."""

from __future__ import annotations

from cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``quantgrid ARGS``; return its exit code, stdout and stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
