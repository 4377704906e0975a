"""What each command does, end to end: export, optimize, debug, the fallback search, inspect and report."""
