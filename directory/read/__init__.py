"""The read side: a listing's public shapes (`shapes`), hydrated from the database (`hydrate`),
found by search then hydrated (`find`), and the lists a search is made from (`reference`).

The JSON API, the pages, the CSV export, the referral list and the OpenAPI schemas all use these.
"""
