"""The one exception the converters raise for input they cannot turn into a manifest."""

from __future__ import annotations


class ConversionError(Exception):
    """The input cannot be converted: malformed, unreadable or inconsistent.

    The message is one line that names the file and the place in it (line, row, array
    index), so the CLI can print it as is. Nothing is written when it is raised: the
    converters write through `ManifestWriter`, which only publishes a finished file.
    """


class SourceAccessError(ConversionError):
    """The input could not be reached at all: listing an S3 location failed (no such
    bucket, no credentials, no connection). The CLI treats it as a failure outside the
    command line (exit 255), not as bad input."""
