"""Alerts: rules over the figures xentui shows, held for a time, with hooks (issue 19)."""

from xentui.alerts.board import Alert, AlertBoard, Severity

__all__ = ["Alert", "AlertBoard", "Severity"]
