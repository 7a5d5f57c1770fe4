"""reconcile: invoice reconciliation and audit rules engine."""

__version__ = "0.1.0"
