"""Readers and writers of profile formats; all bad input becomes FormatError."""
