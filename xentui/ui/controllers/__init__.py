"""Controllers: objects the App owns that drive one concern (the connection, a replay)."""
