"""The points ledger: the one module that writes ledger entries and balances
(writer), the per-household monthly totals it keeps in the same transaction
(totals), and the checks of the ledger's invariants (check)."""
