"""One schema module per resource of the JSON API: what a request may hold
(checked before the handler runs, see app.api.spec) and what an answer
holds (the `*_body` functions build it). The OpenAPI document is generated
from these and nothing else."""
