"""What a client asks of the two operator lists (churn list and action plan): the CLI's words,
and a page of the list.

Why these names: a backend engineer who has run `retain churn-list --stage at_risk,dormant
--tier high --top 500` should not have to learn a second vocabulary for the API. The filters are
`stage`, `tier` and `action`, each one value, a comma-separated string (as the flag takes) or a
list; `min_risk`, `sort_by` and `top` mean what their flags mean, and leaving `top` out lists
every matching user, like `--all`. The plural names the API first had (`stages`, `tiers`,
`actions`) still work as deprecated aliases, so existing clients keep running; giving a name and
its alias together is refused rather than guessed at.

Why paging: one answer is capped at MAX_PAGE_ROWS rows (a bigger JSON body is slow to build and
to parse), but a list may hold millions of users. `offset` and `limit` cut one page out of the
ranked list; the answer says the list's `total` and the `next_offset` (null on the last page),
and `snapshot_id` names the snapshot the ranks come from. A client that sends that id back with
each later page gets 409 instead of a silently shifted page if the service swapped snapshots
in between (a promotion, new events), so pages never mix two rankings.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from serving.api.models import MAX_LIST_ROWS, StrictFloat, StrictInt, _Strict
from serving.decisions import ChurnListQuery, SortKey, split_list

MAX_PAGE_ROWS = MAX_LIST_ROWS  # rows in one answer; page through longer lists
DEFAULT_PAGE_ROWS = 100
MAX_POSITION = 2**31 - 1  # bounds `top` and `offset`: any real list, and no absurd integers
# The CLI's names (`--stage`, `--tier`, `--action`) and the deprecated plural each replaced.
FILTER_ALIASES: dict[str, str] = {"stage": "stages", "tier": "tiers", "action": "actions"}

FilterText = Annotated[str, StringConstraints(max_length=1024)]


def _text_or_texts(given: Any) -> Any:
    """One problem for a filter of the wrong type, not one per member of the union."""
    if isinstance(given, str):
        return given
    if isinstance(given, list | tuple) and all(isinstance(item, str) for item in given):
        return given
    raise ValueError("should be a string or a list of strings")


FilterValues = Annotated[
    list[FilterText] | FilterText,
    BeforeValidator(_text_or_texts),
    Field(description="One value, a comma-separated string or a list; empty: any."),
]


def _values(given: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
    """`"at_risk, dormant"` or `["at_risk", "dormant"]` → `("at_risk", "dormant")`."""
    if given is None:
        return ()
    if isinstance(given, str):
        return split_list(given)
    return tuple(part for item in given for part in split_list(item))


def _known(values: tuple[str, ...], query_field: str) -> tuple[str, ...]:
    """The decision layer's own check of stages and tiers (`ChurnListQuery`), so the API refuses
    exactly what `retain churn-list` refuses, with the same words."""
    try:
        ChurnListQuery(**{query_field: values})
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return values


class ListRequest(_Strict):
    """The filters and paging both lists share (`retain churn-list` / `retain action-plan`)."""

    stage: FilterValues = ()
    tier: FilterValues = ()
    action: FilterValues = ()
    stages: list[FilterText] | None = Field(
        None, description="Deprecated: use `stage`.", json_schema_extra={"deprecated": True}
    )
    tiers: list[FilterText] | None = Field(
        None, description="Deprecated: use `tier`.", json_schema_extra={"deprecated": True}
    )
    actions: list[FilterText] | None = Field(
        None, description="Deprecated: use `action`.", json_schema_extra={"deprecated": True}
    )
    min_risk: StrictFloat = Field(0.0, ge=0, le=1, description="Lowest churn probability kept.")
    top: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_POSITION,
        description="The list's length, as `--top`; omitted: every matching user (`--all`).",
    )
    offset: StrictInt = Field(
        0, ge=0, le=MAX_POSITION, description="Rows of the list to skip (0: from rank 1)."
    )
    limit: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_PAGE_ROWS,
        description=f"Rows in this answer; default: `top` up to {MAX_PAGE_ROWS:,}, else "
        f"{DEFAULT_PAGE_ROWS}.",
    )
    snapshot_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The `snapshot_id` of the first page: a later page of another snapshot "
        "is refused (409) instead of mixing two rankings.",
    )

    @field_validator("stage", "stages", mode="after")
    @classmethod
    def _known_stages(cls, given: Any) -> tuple[str, ...]:
        return _known(_values(given), "stages")

    @field_validator("tier", "tiers", mode="after")
    @classmethod
    def _known_tiers(cls, given: Any) -> tuple[str, ...]:
        return _known(_values(given), "tiers")

    @field_validator("action", "actions", mode="after")
    @classmethod
    def _action_ids(cls, given: Any) -> tuple[str, ...]:
        return _values(given)  # checked against the served catalogue when the list is made

    @model_validator(mode="after")
    def _one_name_per_filter(self) -> ListRequest:
        """A deprecated alias fills its filter; the filter and its alias together are refused."""
        for name, alias in FILTER_ALIASES.items():
            if alias not in self.model_fields_set:
                continue
            if name in self.model_fields_set:
                raise ValueError(f"give `{name}` or its deprecated alias `{alias}`, not both")
            setattr(self, name, getattr(self, alias))
        return self

    def page_size(self) -> int:
        """`limit`, else the whole `top` when it fits in one answer, else DEFAULT_PAGE_ROWS."""
        if self.limit is not None:
            return self.limit
        return min(self.top, MAX_PAGE_ROWS) if self.top is not None else DEFAULT_PAGE_ROWS

    def query(self) -> ChurnListQuery:
        """As `serving.decisions.churn_list` takes it: the whole list, before paging."""
        return ChurnListQuery(
            stages=self.stage,
            tiers=self.tier,
            actions=self.action,
            min_risk=self.min_risk,
            top=self.top,
            sort_by=getattr(self, "sort_by", "value_at_risk"),
        )


class ChurnListRequest(ListRequest):
    """The churn list: ranked by value at risk (churn probability × value at stake) unless
    `sort_by` says `risk` or `gain`, as `retain churn-list --sort-by`."""

    sort_by: SortKey = "value_at_risk"


class ActionPlanRequest(ListRequest):
    """The action plan: the same filters, always ranked by expected gain (no `sort_by`)."""
