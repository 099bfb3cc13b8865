"""Reports for cadres, and for staff over their villages: the dashboard's
figures, engagement per household, villages side by side, trends by month,
the households that need a visit (and the visits), computed in SQL from the
monthly totals the ledger's writer keeps (household_months) and, for the days
at the edges of a range that cuts a month, from the ledger itself.

period.py: the range a report covers; figures.py: what counts where;
visits.py: the needs-a-visit list and the visits that take a household off it."""
