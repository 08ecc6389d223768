"""Reliability tests: many processes, crashes, corrupt files, hostile input (issue 4)."""
