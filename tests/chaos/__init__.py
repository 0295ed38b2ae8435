"""Chaos tests: the loop's services as separate processes, killed, starved and fed garbage
under load, with exact accounting of every event afterwards (see README.md)."""
