"""The regulation's numbers and place lists, in one place.

Chongqing Public Security Video Image Information System Management Measures (Order No. 230).
Every legal number here is the *floor* of a configurable setting, never a constant used directly
by the recording or retention code: other provinces' measures and the 2025 national regulation
repeat the same rules with equal or stricter values.
"""

from __future__ import annotations

from edge.i18n.message import N_

#: Art. 19(8): footage is kept at least 30 days.
MIN_RETENTION_DAYS = 30
#: Art. 19(8): important public-safety footage handed to the police is kept at least 2 years.
MIN_HOLD_DAYS = 730
#: Art. 18: access to footage needs at least two persons.
MIN_ACCESS_PERSONS = 2

#: Art. 9: places and regions where public video systems are to be installed (slugs).
ALLOWED_SITE_CATEGORIES: frozenset[str] = frozenset(
    {
        # (i) state organs, radio and television stations, news media
        "state_organ", "broadcaster",
        # (ii) telecommunications, postal, financial units, key construction projects
        "telecom", "postal", "financial_public_area", "key_construction",
        # (iii) dangerous goods: research, production, sale, storage
        "dangerous_goods",
        # (iv) energy, power, water and heat supply facilities
        "energy_facility", "water_facility", "utility",
        # (v) highways, trunk roads, urban roads, metro and rail, bridges
        "highway", "public_road", "street", "urban_rail", "bridge",
        # (vi) research units, schools, hospitals, scenic spots, parks, airports, ports, stations, buses
        "research_unit", "school", "hospital", "scenic_area", "park", "airport", "port", "station",
        "public_transport",
        # (vii) large warehouses, venues, squares, protected sites, museums, archives, tunnels,
        #       streets and residential areas
        "warehouse", "cultural_sports_venue", "square", "heritage_site", "museum", "archive",
        "exhibition_centre", "tunnel", "residential_area",
        # (viii) public corridors and entrances of malls, restaurants, theatres, hotels, internet cafes
        "commercial", "restaurant_public_area", "theatre", "entertainment_public_area",
        "hotel_public_area", "internet_cafe",
        # (ix) areas with frequent crime or public-order cases
        "crime_hotspot",
        # (x) other places set by law
        "other_statutory",
    }
)

#: Each Art. 9 category in words (a catalog text: the filing pack shows it in the reader's language).
SITE_CATEGORY_NAMES: dict[str, str] = {
    "state_organ": N_("state organ"),
    "broadcaster": N_("radio or television station, news media"),
    "telecom": N_("telecommunications"),
    "postal": N_("postal service"),
    "financial_public_area": N_("financial unit (public area)"),
    "key_construction": N_("key construction project"),
    "dangerous_goods": N_("dangerous goods (research, production, sale, storage)"),
    "energy_facility": N_("energy or power facility"),
    "water_facility": N_("water supply facility"),
    "utility": N_("heat or gas supply facility"),
    "highway": N_("highway"),
    "public_road": N_("trunk or urban road"),
    "street": N_("street"),
    "urban_rail": N_("metro or rail"),
    "bridge": N_("bridge"),
    "research_unit": N_("research unit"),
    "school": N_("school"),
    "hospital": N_("hospital"),
    "scenic_area": N_("scenic spot"),
    "park": N_("park"),
    "airport": N_("airport"),
    "port": N_("port"),
    "station": N_("station"),
    "public_transport": N_("public transport"),
    "warehouse": N_("large warehouse"),
    "cultural_sports_venue": N_("cultural or sports venue"),
    "square": N_("square"),
    "heritage_site": N_("protected heritage site"),
    "museum": N_("museum"),
    "archive": N_("archive"),
    "exhibition_centre": N_("exhibition centre"),
    "tunnel": N_("tunnel"),
    "residential_area": N_("residential area"),
    "commercial": N_("mall or market (public corridors, entrances)"),
    "restaurant_public_area": N_("restaurant (public area)"),
    "theatre": N_("theatre"),
    "entertainment_public_area": N_("entertainment venue (public area)"),
    "hotel_public_area": N_("hotel (public area)"),
    "internet_cafe": N_("internet cafe"),
    "crime_hotspot": N_("area with frequent crime or public-order cases"),
    "other_statutory": N_("other place set by law"),
}

#: Art. 10: places and regions where installing a public video system is prohibited, with the
#: paragraph that forbids each (used in error messages).
PROHIBITED_SITE_CATEGORIES: dict[str, str] = {
    "hotel_guest_room": "Art. 10(1): guest rooms of hotels and recreation venues",
    "recreation_private_room": "Art. 10(1): private rooms of recreation venues",
    "dormitory": "Art. 10(2): collective accommodation",
    "private_residence": "Art. 10(2): personal residences",
    "restroom": "Art. 10(3): toilets and bathrooms",
    "bathroom": "Art. 10(3): toilets and bathrooms",
    "changing_room": "Art. 10(3): changing rooms",
    "nursing_room": "Art. 10(3): nursing (lactation) rooms",
    "medical_exam_room": "Art. 10(3)/(6): rooms where people undress for care",
    "financial_privacy_area": "Art. 10(4): spots in financial, insurance and securities institutions "
    "where personal information may be seen",
    "polling_booth": "Art. 10(5): near ballot boxes and polling booths, where a voter's will can be seen",
    "other_private": "Art. 10(6): other places involving personal privacy",
}
