"""Recordings: the format (format.py, delta.py), writing (writer.py), reading (reader.py), playing (player.py)."""
