"""Demo organizations: infusion centers, home infusion, hospital infusion, pharmacies and practices."""

from __future__ import annotations

from directory.demo.vocabulary import (
    HOURS,
    HOURS_24,
    IVIG_PRODUCTS,
    ORG_TYPES,
    PRACTICE_FALLBACK_SPECIALTIES,
    PRACTICE_SPECIALTY,
    Batch,
    _weighted,
)


class _OrganizationMixin:
    """The organization listings of `_Generator` (uses its shared listing, location and network helpers)."""

    def organization(self, batch: Batch, area_index: int) -> None:
        rng = self.rng
        area, state = self.areas[area_index], self.state[area_index]
        lid = self._take("listing")
        org_type = _weighted(rng, ORG_TYPES)
        place = rng.choice(area.zips)
        pediatric = False
        chairs: int | None = None
        services: list[str]
        if org_type == "infusion_center":
            suffix = rng.choice(self.suffixes["infusion_center"])
            codes = ["261QI0500X"] + (["261QM2500X"] if rng.random() < 0.2 else [])
            pediatric = rng.random() < 0.25
            services = ["ivig", "infusion_center"]
            services += ["prior_authorization"] if rng.random() < 0.75 else []
            services += ["scig"] if rng.random() < 0.35 else []
            services += ["rituximab_infusion"] if rng.random() < 0.40 else []
            services += ["eculizumab_infusion"] if rng.random() < 0.10 else []
            services += ["igg_level_testing"] if rng.random() < 0.20 else []
            services += ["pediatric_infusion"] if pediatric else []
            chairs = rng.randint(4, 40)
        elif org_type == "home_infusion":
            suffix = rng.choice(self.suffixes["home_infusion"])
            first = rng.choice(("3336H0001X", "251F00000X"))
            other = "251F00000X" if first == "3336H0001X" else "3336H0001X"
            codes = [first] + ([other] if rng.random() < 0.5 else [])
            pediatric = rng.random() < 0.4
            services = ["home_infusion", "ivig", "scig", "nursing_visit"]
            services += ["prior_authorization"] if rng.random() < 0.6 else []
            services += ["pediatric_infusion"] if pediatric and rng.random() < 0.5 else []
        elif org_type == "hospital_infusion":
            children = rng.random() < 0.2
            suffix = rng.choice(self.suffixes["children_hospital" if children else "hospital_infusion"])
            codes = ["282NC2000X" if children else "282N00000X", "261QI0500X"]
            pediatric = children or rng.random() < 0.3
            services = ["ivig", "infusion_center"]
            services += ["plasma_exchange"] if rng.random() < 0.4 else []
            services += ["rituximab_infusion"] if rng.random() < 0.4 else []
            services += ["eculizumab_infusion"] if rng.random() < 0.15 else []
            services += ["prior_authorization"] if rng.random() < 0.5 else []
            services += ["pediatric_infusion"] if pediatric else []
            chairs = rng.randint(4, 40)
        elif org_type == "specialty_pharmacy":
            suffix = rng.choice(self.suffixes["specialty_pharmacy"])
            codes = ["3336S0011X"] + (["3336H0001X"] if rng.random() < 0.3 else [])
            services = ["ivig"] if rng.random() < 0.9 else []
            services += ["scig"] if rng.random() < 0.6 else []
            services += ["prior_authorization"] if rng.random() < 0.7 else []
        else:  # practice
            suffix = rng.choice(self.suffixes["practice"])
            physician = PRACTICE_SPECIALTY.get(suffix) or rng.choice(PRACTICE_FALLBACK_SPECIALTIES)
            multi = rng.random() < 0.3
            codes = ["193200000X" if multi else "193400000X", physician]
            if multi:
                codes.append(rng.choice([c for c in PRACTICE_FALLBACK_SPECIALTIES if c != physician]))
            pediatric = suffix.startswith("Pediatric")
            services = ["ivig"] if rng.random() < 0.35 else []
            services += ["prior_authorization"] if rng.random() < 0.5 else []
            if physician.startswith("2084"):
                services += ["emg_testing"] if rng.random() < 0.6 else []
                services += ["skin_biopsy"] if rng.random() < 0.3 else []
            elif physician.startswith(("207K", "2080P0201")):
                services += ["igg_level_testing"] if rng.random() < 0.7 else []
                services += ["scig"] if rng.random() < 0.3 else []
            elif physician.startswith("207N"):
                services += ["skin_biopsy"] if rng.random() < 0.6 else []
            if "ivig" in services:
                services.append("infusion_center")
                chairs = rng.randint(4, 12)
        style = rng.random()
        place_word = rng.choice(self.place_words)
        if style < 0.6:
            name = f"{place_word} {suffix}"
        elif style < 0.85:
            name = f"{place.city} {suffix}"
        else:
            name = f"{place_word} {suffix} of {place.city}"
        services = self._svc(services)
        products = []
        if "ivig" in services:
            products = rng.sample(IVIG_PRODUCTS, rng.randint(2, 6))
        batch.listings.append(self._listing(lid, "organization", name, services, 0.10))
        batch.organizations.append(
            {
                "listing_id": lid,
                "org_type": org_type,
                "ivig_products": products,
                "chairs": chairs,
                "pediatric": pediatric,
                "prior_auth_help": "prior_authorization" in services,
            }
        )
        self._specialties(batch, lid, codes)
        sites = 1
        if org_type == "infusion_center" and rng.random() < 0.15:
            sites = rng.randint(2, 3)
        pharmacy = org_type in ("home_infusion", "specialty_pharmacy")
        hours = HOURS_24 if pharmacy and rng.random() < 0.3 else rng.choice(HOURS)
        used: set[str] = set()
        for site in range(sites):
            if site:
                for _ in range(5):
                    place = rng.choice(area.zips)
                    if place.zip not in used:
                        break
            used.add(place.zip)
            loc_name = f"{name} — {place.city}" if sites > 1 else None
            loc_id = self._location(batch, lid, place, loc_name, hours)
            if org_type in ("practice", "hospital_infusion", "infusion_center"):
                state.for_physicians.append((lid, loc_id))
            if org_type in ("infusion_center", "hospital_infusion", "home_infusion"):
                state.for_staff.append((lid, loc_id))
        self._participations(batch, lid, state)
