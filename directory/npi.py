"""National Provider Identifier check digit (Luhn over the prefix 80840 + the first nine digits)."""

from __future__ import annotations


def _luhn_sum(digits: str) -> int:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 0:  # rightmost digit of the payload is doubled, as the check digit is absent
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def check_digit(first_nine: str) -> int:
    """The tenth digit that makes `first_nine` a valid NPI."""
    return (10 - _luhn_sum("80840" + first_nine) % 10) % 10


def is_valid_npi(npi: str) -> bool:
    """True when `npi` is 10 digits with a correct check digit."""
    return (
        isinstance(npi, str)
        and len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and check_digit(npi[:9]) == int(npi[9])
    )


def make_npi(serial: int, individual: bool) -> str:
    """A valid NPI built from a serial number (demo data); type 1 starts with 1, type 2 with 2."""
    first_nine = f"{1 if individual else 2}{serial % 100_000_000:08d}"
    return first_nine + str(check_digit(first_nine))
