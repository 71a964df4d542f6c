"""The one error type for bad input or configuration (a ValueError, so callers may catch either)."""


class DeepDXError(ValueError):
    """Bad input or configuration: the stages and the CLI report it in one line, exit status 2."""
