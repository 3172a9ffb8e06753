"""Demo practitioners: physicians and infusion staff, with roles at nearby organizations or own offices."""

from __future__ import annotations

from directory.demo.vocabulary import HOURS, PRAC_GROUPS, Batch, _unique, _weighted


class _PractitionerMixin:
    """The practitioner listings of `_Generator` (uses its shared listing, location and network helpers)."""

    def _practitioner_profile(self) -> tuple[list[str], str, list[str], bool]:
        """(specialty codes, primary first; credentials; services; is a physician)."""
        rng = self.rng
        group = _weighted(rng, PRAC_GROUPS)
        chance = rng.random
        services: list[str] = []
        if group == "rheumatology":
            codes = ["2080P0216X" if chance() < 0.15 else "207RR0500X"]
            codes += ["207R00000X"] if chance() < 0.25 else []
            services += ["prior_authorization"] if chance() < 0.3 else []
        elif group == "neurology":
            codes = ["2084N0402X" if chance() < 0.1 else "2084N0400X"]
            codes += ["2084N0008X"] if chance() < 0.35 else []
            codes += ["2084N0600X"] if chance() < 0.2 else []
            codes += ["204R00000X"] if chance() < 0.08 else []
            services += ["emg_testing"] if chance() < 0.5 else []
            services += ["skin_biopsy"] if chance() < 0.2 else []
        elif group == "dermatology":
            codes = ["207N00000X"]
            codes += ["207NI0002X"] if chance() < 0.35 else []
            codes += ["207NP0225X"] if chance() < 0.1 else []
            services += ["skin_biopsy"] if chance() < 0.7 else []
        elif group == "allergy_immunology":
            first = _weighted(rng, (("207K00000X", 60), ("207KI0005X", 20), ("2080P0201X", 20)))
            codes = [first]
            codes += ["207KI0005X"] if first == "207K00000X" and chance() < 0.3 else []
            codes += ["207RA0201X"] if chance() < 0.1 else []
            codes += ["2080I0007X"] if first == "2080P0201X" and chance() < 0.3 else []
            services += ["igg_level_testing"] if chance() < 0.6 else []
            services += ["scig"] if chance() < 0.2 else []
        elif group == "hematology":
            codes = ["207RH0000X"] + (["207RH0003X"] if chance() < 0.4 else [])
            services += ["plasma_exchange"] if chance() < 0.1 else []
        elif group == "internal_medicine":
            codes = ["207R00000X"]
            codes += ["207RI0001X"] if chance() < 0.2 else []
            codes += ["208M00000X"] if chance() < 0.15 else []
        else:  # infusion nurses, nurse practitioners and physician assistants
            role = _weighted(rng, (("np", 50), ("rn", 30), ("pa", 20)))
            if role == "np":
                first = _weighted(
                    rng, (("363L00000X", 40), ("363LA2200X", 25), ("363LF0000X", 25), ("363LP0200X", 10))
                )
                codes = [first] + (["364SN0800X"] if chance() < 0.1 else [])
                credentials = rng.choice(("NP", "APRN"))
            elif role == "rn":
                codes = ["163WI0500X"] + (["163WH0200X"] if chance() < 0.3 else [])
                credentials = "RN"
            else:
                codes = ["363A00000X"] + (["363AM0700X"] if chance() < 0.3 else [])
                credentials = "PA-C"
            services += ["ivig"] if chance() < 0.7 else []
            services += ["nursing_visit"] if role == "rn" or chance() < 0.2 else []
            services += ["scig"] if chance() < 0.3 else []
            return codes, credentials, services, False
        credentials = "DO" if chance() < 0.2 else "MD"
        return codes, credentials, services, True

    def practitioner(self, batch: Batch, area_index: int) -> None:
        rng = self.rng
        area, state = self.areas[area_index], self.state[area_index]
        lid = self._take("listing")
        codes, credentials, services, physician = self._practitioner_profile()
        codes = _unique(codes)
        first = rng.choice(self.first_names)
        last = rng.choice(self.last_names)
        gender = rng.choices(("F", "M", "X"), weights=(52, 46, 2))[0]
        listing = self._listing(
            lid, "practitioner", f"{first} {last}, {credentials}", self._svc(services), 0.40
        )
        batch.listings.append(listing)
        batch.practitioners.append(
            {
                "listing_id": lid,
                "first_name": first,
                "last_name": last,
                "credentials": credentials,
                "gender": gender,
            }
        )
        self._specialties(batch, lid, codes)
        pool = state.for_physicians if physician else state.for_staff
        roles = 1 if rng.random() < 0.75 else 2
        places: list[tuple[int | None, int]] = []
        own_office = False
        for _ in range(roles):
            if pool and rng.random() < 0.8:
                org_id, loc_id = pool[rng.randrange(len(pool))]
                if any(loc_id == existing for _, existing in places):
                    continue
                places.append((org_id, loc_id))
            elif not own_office:
                own_office = True
                loc_id = self._location(batch, lid, rng.choice(area.zips), None, rng.choice(HOURS))
                places.append((None, loc_id))
        for org_id, loc_id in places:
            batch.roles.append(
                {
                    "id": self._take("role"),
                    "practitioner_id": lid,
                    "organization_id": org_id,
                    "location_id": loc_id,
                    "specialty_code": codes[0],
                    "accepting_new_patients": listing["accepting_new_patients"],
                    "telehealth": listing["telehealth"],
                }
            )
        self._participations(batch, lid, state)
