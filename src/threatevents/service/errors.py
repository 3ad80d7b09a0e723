"""Errors of the service layer; each carries the HTTP status a web layer answers with."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of the errors a caller shows to the user; ``status`` is the HTTP status to answer with."""

    status: int = 400


class NotFound(WorkbenchError):
    status = 404


class ValidationError(WorkbenchError):
    status = 422


class UnsupportedMedia(WorkbenchError):
    status = 415


class TooLarge(WorkbenchError):
    status = 413


class Busy(WorkbenchError):
    """Too many model calls running or waiting; try again after ``retry_after`` seconds."""

    status = 503
    retry_after = 1


class ModelNotReady(WorkbenchError):
    status = 503
    retry_after = 5
