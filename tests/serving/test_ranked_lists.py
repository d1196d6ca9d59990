"""One ranking per snapshot and query: pages are slices of it, memory is bounded."""

from __future__ import annotations

import threading

import pandas as pd

from serving.api.ranked_lists import RankedLists


def _frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(rows)]})


def test_a_list_is_ranked_once_however_many_pages_are_read():
    lists, calls = RankedLists(), []

    def rank() -> pd.DataFrame:
        calls.append(1)
        return _frame(30)

    pages = [lists.get(("churn_list", "q"), rank).iloc[start : start + 10] for start in (0, 10, 20)]
    assert len(calls) == 1
    assert [u for page in pages for u in page["user_id"]] == [f"u{i}" for i in range(30)]
    lists.get(("action_plan", "q"), rank)  # another list, another ranking
    assert len(calls) == 2


def test_the_least_recently_read_list_goes_first_when_rows_exceed_the_bound():
    lists = RankedLists(max_rows=100)
    lists.get("a", lambda: _frame(40))
    lists.get("b", lambda: _frame(40))
    lists.get("a", lambda: _frame(999))  # read again: now the most recent
    lists.get("c", lambda: _frame(40))  # 120 rows > 100: "b" (least recent) is dropped
    assert len(lists) == 2 and lists.rows() == 80
    again = []
    lists.get("a", lambda: again.append("a") or _frame(40))
    lists.get("b", lambda: again.append("b") or _frame(40))
    assert again == ["b"]


def test_one_list_larger_than_the_bound_is_still_kept_for_its_pages():
    lists = RankedLists(max_rows=10)
    lists.get("big", lambda: _frame(50))
    calls = []
    lists.get("big", lambda: calls.append(1) or _frame(50))
    assert calls == [] and lists.rows() == 50


def test_threads_reading_one_list_all_get_a_complete_ranking():
    lists, frames = RankedLists(), []
    threads = [
        threading.Thread(target=lambda: frames.append(lists.get("k", lambda: _frame(1000))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(frames) == 8 and all(len(frame) == 1000 for frame in frames)
    assert len(lists) == 1
