"""Storage backends: ``sqlite`` (embedded, the original's file) and ``postgres``."""
