"""Run a verify command as an operator would: its output when all is well, its complaint when not."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def command_output(name, *args):
    """Return what the command printed."""
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().strip()


def command_complaint(name, *args):
    """Return the command's complaint; fail if it has none or exits with another status than 1."""
    with pytest.raises(CommandError) as error:
        command_output(name, *args)
    assert error.value.returncode == 1
    return str(error.value)
