"""Keep patient data out of logs and warnings that libraries emit on our behalf.

pydicom reports an invalid attribute value by quoting it, in a log record (logger "pydicom")
and in a UserWarning. In a damaged header one element's value can swallow the elements after
it — the patient's name and ID included (found by scripts/robustness.py) — so those quotes
would write patient data to the console or a log file. ``protect_logs`` withholds the quoted
value from pydicom's records and silences its value warnings; the loaders still report each
damaged file through their own errors. Called once by ``vcfviewer.__main__.main`` and by every
batch task; calling it again changes nothing.
"""

from __future__ import annotations

import logging
import warnings

WITHHELD = "(value withheld: it may hold patient data)"


class RedactQuotedValues(logging.Filter):
    """Cut a record's message at its first quote: what follows quotes a header value."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cut = min((i for i in (message.find("'"), message.find('"')) if i >= 0), default=-1)
        if cut >= 0:
            record.msg, record.args = f"{message[:cut].rstrip()} {WITHHELD}", ()
        return True


def protect_logs() -> None:
    """Install the redaction filter on pydicom's logger and mute its value warnings."""
    logger = logging.getLogger("pydicom")
    if not any(isinstance(f, RedactQuotedValues) for f in logger.filters):
        logger.addFilter(RedactQuotedValues())
    # The same texts as the log records, warned from pydicom.valuerep and friends. An identical
    # filter is replaced, not stacked, so calling this again is harmless.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
