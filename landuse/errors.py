"""Errors that carry a message for the user (the CLI prints them without a traceback)."""


class LanduseError(Exception):
    """A problem with the user's input: data, configuration or output location.

    The message names the file, layer, column or value at fault and says what to do.
    """


class ConfigError(LanduseError):
    """A region, criteria or parameter file is invalid."""


class DataError(LanduseError):
    """An input data set is missing, unreadable or does not fit the region."""
