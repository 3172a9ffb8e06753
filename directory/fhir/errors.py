"""The error a search refuses a request with (the web layer answers it as an OperationOutcome)."""

from __future__ import annotations


class SearchError(Exception):
    """A request the server refuses: code is the OperationOutcome issue code (invalid,
    not-supported), expression the parameter as the request named it."""

    def __init__(self, code: str, message: str, expression: str | None = None):
        super().__init__(message)
        self.code, self.message, self.expression = code, message, expression
