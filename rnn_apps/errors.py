"""The one exception type for user mistakes.

A ``UserError`` is something the user can fix (a missing file, a malformed line, an
unknown option value). The CLI prints its message on one line and exits with status 2,
without a traceback; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in what the user gave us: a file, an option, a value."""


class Interrupted(UserError):
    """The user stopped a command (Ctrl-C); what was done is kept. The CLI exits with 130."""

    exit_code = 130
