"""The counter: member cards (issue, print, resolve at the counter) and the
checkout and its void, with the checks of the checkout invariants."""
