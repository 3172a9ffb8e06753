"""FHIR R4 resources in the shape of HL7 Da Vinci PDex Plan-Net, mapped from the database.

`codes` holds the canonical URLs and code tables, `ids` the resource ids, `records` what one
listing's resources are made from, `listing`, `roles` and `networks` the mapping (pure functions
from records to resource dictionaries), `read` the lookup of one resource by type and id, and
`capability` the CapabilityStatement built from the dispatcher's table.

Search: `parameters` (what each type answers and where its values are), `values` (how a value
matches), `universe` (every resource of a type in key order), `criteria` (a query as tests,
chains and `_has`), `narrowing` (the listings that can match, from the database), `places` (near
and _content through the Searcher), `nearby` (`Location?near` alone, by point), `counts` (totals
without criteria), `include`, `definitions` (our SearchParameter resources) and `search` (the
Bundle and its paging).
"""
