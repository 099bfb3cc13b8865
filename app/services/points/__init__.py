"""Points: awards and deductions with their public notice, objections,
approvals and reversals, year-end expiry, the rule catalogue (积分细则),
evidence photos, the village notice (公示) and the household's passbook.
Every change of a balance goes through app.services.ledger.writer."""
