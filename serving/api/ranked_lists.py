"""The ranked lists of one served snapshot, kept while clients page through them.

Why: a page of the churn list or the action plan is cut out of the whole ranked list (so ranks
and ties are the CLI's), and ranking sorts every matching user. Paging through a million-user
list 10,000 rows at a time sorted the snapshot a hundred times; now the first page ranks it and
the others are slices. A cache belongs to one `ServingState`: a refresh builds a new state, so
a new snapshot is never answered from an old ranking. It holds at most `max_rows` rows over all
its lists (least recently used dropped first), so many different filters cannot grow a worker's
memory without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import pandas as pd

DEFAULT_MAX_ROWS = 2_000_000


class RankedLists:
    """Ranked list frames by key (the list kind and its query), least recently used evicted."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._lists: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, rank: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The list for `key`, ranked by `rank()` the first time (outside the lock: another
        list's request does not wait for this sort)."""
        with self._lock:
            if key in self._lists:
                self._lists.move_to_end(key)
                return self._lists[key]
        ranked = rank()
        with self._lock:
            self._lists[key] = ranked
            self._lists.move_to_end(key)
            while len(self._lists) > 1 and self.rows() > self.max_rows:
                self._lists.popitem(last=False)
        return ranked

    def rows(self) -> int:
        """Rows held over every list."""
        return sum(len(frame) for frame in self._lists.values())

    def __len__(self) -> int:
        return len(self._lists)
