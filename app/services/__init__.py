"""The domain layer: plain functions, one act each, that take the acting user,
check what they may do, keep the invariants and flush (the request or the
command commits). One subpackage per domain:

- ledger/    the one writer of the points ledger and of balances, the totals
             it keeps in step, and the checks of its invariants
- points/    awards and deductions, public notice, objections, decisions,
             reversals, expiry, the rule catalogue, evidence, the passbook
- goods/     products, donors and donations, lots and stock, write-offs,
             transfers, stocktakes
- checkout/  member cards and the counter's acts: checkout and void
- people/    the region tree, supermarkets, users, households and the policy
             (who may do what, and what each user reaches)

Shared by all: errors (domain errors), validate (field checks), audit (the
audit trail), clock (local dates), spreadsheets (reading and writing files).
"""
