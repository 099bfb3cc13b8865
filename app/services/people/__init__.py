"""People and places: the region tree and supermarkets, users and their
tokens, the household register and its import, and the policy: who may do
what (policy) and what each user reaches (scope); and privacy: anonymising an
exited household once its retention period is over."""
