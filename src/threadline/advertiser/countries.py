"""ISO 3166-1 alpha-2: the 249 officially assigned country codes (campaign targeting is country-level)."""

from __future__ import annotations

COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()  # noqa: SIM905 -- a grid by first letter is easier to audit than a literal
)


def normalise_country(value: str) -> str | None:
    """The upper-cased alpha-2 code, or None if it is not an assigned country.

    A subdivision code (ISO 3166-2, ``US-CA``) resolves to its country: targeting is country-level
    only, and the finer detail is ignored rather than refused.
    """
    code = value.strip().upper()
    if len(code) > 2 and code[2:3] == "-" and 1 <= len(code) - 3 <= 3 and code[3:].isalnum():
        code = code[:2]
    return code if code in COUNTRY_CODES else None
