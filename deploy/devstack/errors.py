"""The one error type of the dev stack."""


class DevstackError(Exception):
    """A problem the user can fix (port taken, already running, a tool missing).

    The command line prints its message as one line, without a traceback.
    """


class AlreadyRunningError(DevstackError):
    """Another dev stack holds the lock of this data folder."""


class PortInUseError(DevstackError):
    """Something else already listens on a port the dev stack needs."""
