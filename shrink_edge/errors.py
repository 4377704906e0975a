"""The one error type a user sees: a single line saying what is wrong, where, and how to fix it."""


class UserError(Exception):
    """Bad input from the user. The CLI prints the message alone and exits with code 2."""


class BudgetError(Exception):
    """An artifact broke its target's verification budget. The CLI exits with code 1."""


class PredictionUnavailable(Exception):
    """A runtime cannot run here (e.g. Core ML off macOS); verification is skipped with this reason."""


class DeviceError(Exception):
    """A device that is missing, went away, or failed to run the model. The CLI exits with code 3."""


def first_line(e: BaseException) -> str:
    """An exception's first line of text, for a one-line message."""
    text = str(e).strip().splitlines()
    return text[0] if text else ""
