"""reconcile: invoice reconciliation and audit rules engine."""
