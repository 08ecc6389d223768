"""What both SQL backends share, written once: query shapes, column lists, row mapping.

Each module here serves one part of the contract and takes a small dialect
description for what differs between SQLite and PostgreSQL.
"""
