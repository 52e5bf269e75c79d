"""Hand-made report summaries for tests: a few fields given, the rest blank but present."""
from __future__ import annotations

from rnnscope.analysis.summary import Summary, complete


def typed(partial: dict) -> Summary:
    """``partial`` (sections -> fields) laid over a blank summary (``rnnscope.analysis.summary.complete``), read strictly."""
    return Summary.from_dict(complete(partial))
