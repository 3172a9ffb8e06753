"""Network participation from the payers themselves: harvesting their Plan-Net provider directories.

Precedence (what wins when sources disagree):

- NPPES owns names and specialties: a harvest never changes a listing's name or specialties. It
  gives them only to a listing it creates for a relevant NPI we do not have (source "harvest").
- A payer source owns its own networks' participation: for the networks it publishes (only its
  `--payer`'s when one is given), the live participation rows follow what it asserts, with its
  period and, per network, whether the provider accepts new patients (`newpatients`). A
  participation staff removed that the source still asserts comes back at its next run; one the
  source stops asserting is ended by the next full harvest (its period closed, never deleted), and a
  listing whose every participation ended shows in the verification queue.
- Staff edits win over imports for what staff maintain: addresses, phones, hours, roles, accepting
  new patients on the listing, verification. A harvest writes none of these on a listing it did not
  create; participation it did not assert (added by staff or an import) it leaves alone.
- Every change is audited with the source as actor (`harvest:<name>`), and each page is applied in
  one transaction with its index changes (the outbox) and the run's checkpoint.

What is read: networks (with their payers) and InsurancePlans (their networks' plan types), then
PractitionerRoles and OrganizationAffiliations with a specialty we carry (who is in which network,
for what period, accepting new patients or not: the role's `newpatients`, else its locations'), and
HealthcareServices with a specialty of our taxonomy's organization section (infusion clinics, home
infusion and specialty pharmacies, hospitals): an organization we do not list becomes a listing, in
a network or not. Plan-Net gives a HealthcareService no network, so a service alone never changes
participation. An NPI is matched to our listing of the same NPI; one held here by a listing of the
other kind (a practitioner's NPI given to an organization) is reported and skipped.

Modules: `client` (HTTP paging, one page ahead, rate limit, retries), `elements` (reading Plan-Net
elements), `parse` (a page into assertions), `apply` (the writes), `run` (one run: pages,
checkpoint, settle), `cli` (the commands).
"""
