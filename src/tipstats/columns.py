"""The one column vocabulary shared by schemas, Python and SQL (DESIGN.md section 3).

Only column *names* live here; the allowed values of each dimension are data in
``data/reference/`` and are read through ``tipstats.codelists``.
"""

from __future__ import annotations

COUNTRY = "country"
YEAR = "year"
INDICATOR = "indicator"
SEX = "sex"
AGE = "age"
EXPLOITATION = "exploitation"
CITIZENSHIP = "citizenship"
VALUE = "value"
STATUS = "status"
SOURCE = "source"
COMMENT = "comment"
SOURCE_ROW = "source_row"

# Dimensions that carry a code list (``_T`` means all categories).
CODED_DIMENSIONS = (INDICATOR, SEX, AGE, EXPLOITATION, CITIZENSHIP, STATUS, SOURCE)
BREAKDOWN_DIMENSIONS = (SEX, AGE, EXPLOITATION, CITIZENSHIP)

# One observation is identified by this key; a file may hold each key at most once.
OBSERVATION_KEY = (COUNTRY, YEAR, INDICATOR, SEX, AGE, EXPLOITATION, CITIZENSHIP, SOURCE)

# The submission template, in column order.
TEMPLATE_COLUMNS = (
    COUNTRY, YEAR, INDICATOR, SEX, AGE, EXPLOITATION, CITIZENSHIP, VALUE, STATUS, SOURCE, COMMENT,
)
TEMPLATE_REQUIRED = (COUNTRY, YEAR, INDICATOR, SEX, AGE, EXPLOITATION, CITIZENSHIP, VALUE)

# The harmonized (canonical) observation, as it enters the warehouse.
OBSERVATION_COLUMNS = (*OBSERVATION_KEY, VALUE, STATUS, COMMENT, SOURCE_ROW)

TOTAL = "_T"
UNKNOWN = "UNKNOWN"
