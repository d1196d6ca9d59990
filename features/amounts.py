"""Money as exports write it: currency marks, thousands separators, decimal commas, negatives.

Why: shops and warehouses export amounts the way their spreadsheets show them (`$42.57`,
`16.96 EUR`, `"1,234.50"`, `1.234,50`, `(12.00)`). Treating those as bad rows lost whole events,
activity included. The rules below (docs/bad-input.md, "Amounts") read the common forms
exactly and leave anything else unparsed, never guessed.

Why in Ibis, and only where a plain cast fails: the rules are regular expressions evaluated by
the engine over the column (DuckDB or Spark alike, no Python per row), and texts a plain cast
reads never reach them (they see null), so a column of plain numbers, the usual export, pays
about what it paid before (measured: +0.06 s CPU per million rows; a column of currency texts
+0.3 s). A row's value depends on its own text only, never on other rows (a column-wide guess
about separators would let events added later change earlier amounts).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

# Whitespace inside an amount: ASCII, no-break space and the narrow no-break space that French
# and Swiss locales put between digit groups.
_SPACE = "[\t \u00a0\u202f]*"
_GROUP_SPACES = (" ", "\u00a0", "\u202f", "'")  # `1 234,50`, `1'234.50` (Swiss)
# A currency mark: a symbol, an ISO 4217 code (upper case, as the standard writes it) or a
# dollar with its country prefix (`US$`, `A$`, `HK$`).
_CURRENCY = "(?:[A-Z]{3}|[A-Z]{0,2}\\$|[€£¥₹₩₽₺₪₱₫])"
# The digits, possibly grouped: starts and ends with a digit.
_NUMBER = "([0-9](?:[0-9.,'\u00a0\u202f ]*[0-9])?)"
# The whole text: an optional opening parenthesis, a sign before or after a leading currency,
# the number, an optional trailing currency, an optional trailing minus (`12.50-`, as SAP
# exports write it) and the closing parenthesis. Group 1 is the number.
_SHAPE = (
    f"^{_SPACE}\\(?{_SPACE}[-+]?{_SPACE}(?:{_CURRENCY}{_SPACE}[-+]?{_SPACE})?"
    f"{_NUMBER}{_SPACE}(?:{_CURRENCY}{_SPACE})?-?{_SPACE}\\)?{_SPACE}$"
)
# Digit groups, checked on the number alone. A lone separator followed by exactly three digits
# is read as a decimal point when it is a dot (`1.234` = 1.234, as every machine writes it)
# and as a thousands separator when it is a comma after a leading group (`1,234` = 1234:
# money has two decimals in nearly every currency); `0,125` and `12,5` have decimal commas.
_PLAIN = "^[0-9]+(\\.[0-9]+)?$"
_COMMA_GROUPS = (
    "^[1-9][0-9]{0,2}(,[0-9]{3})+(\\.[0-9]+)?$"  # 1,234,567.89
    "|^[1-9][0-9]?(,[0-9]{2})+,[0-9]{3}(\\.[0-9]+)?$"  # 12,34,567.89 (Indian lakh grouping)
)
_DECIMAL_COMMA = "^[0-9]+,[0-9]+$"  # 12,5  12,50  0,125
_DOT_GROUPS = "^[1-9][0-9]{0,2}(\\.[0-9]{3})+(,[0-9]+)?$"  # 1.234.567,89
_SPACE_GROUPS = "^[1-9][0-9]{0,2}([ '\u00a0\u202f][0-9]{3})+([.,][0-9]+)?$"  # 1 234 567,89


def _ungrouped(number: ir.StringValue) -> ir.StringValue:
    """The number with its digit-group spaces or apostrophes removed."""
    for mark in _GROUP_SPACES:
        number = number.replace(mark, "")
    return number


def _decimal_text(number: ir.StringValue) -> ir.StringValue:
    """The number as plain decimal text (`1234.50`), or null when its grouping is not one of
    the forms above (`1,23.4`, `12.345,6.7`)."""
    return ibis.cases(
        (number.re_search(_PLAIN), number),
        (number.re_search(_COMMA_GROUPS), number.replace(",", "")),
        (number.re_search(_DECIMAL_COMMA), number.replace(",", ".")),
        (number.re_search(_DOT_GROUPS), number.replace(".", "").replace(",", ".")),
        (number.re_search(_SPACE_GROUPS), _ungrouped(number).replace(",", ".")),
        else_=ibis.null("string"),
    )


def with_amount(table: ir.Table, text: str, out: str) -> ir.Table:
    """`table` plus column `out`: the amount in text column `text`, null when missing or
    unreadable in every form read here (`NaN` and `inf` come back as such; the caller decides).

    Negative when the text holds one minus sign (before or after a leading currency, or after
    the number) or is wrapped in parentheses; a text with both, or two minus signs, is null.

    Why a chain of projections rather than one expression: each step refers to the previous
    one's columns, which Ibis keeps as columns instead of inlining (inlined, the number's
    regular expression appeared hundreds of times in the query and loading took 2.7 times as
    long).
    """
    plain = table.mutate(_plain=table[text].try_cast("float64"))
    source = plain[text]
    marked = plain.mutate(
        _marked=ibis.ifelse(plain["_plain"].isnull() & (source != ""), source, ibis.null("string"))
    )
    mark = marked["_marked"]
    parts = marked.mutate(
        _number=mark.re_extract(_SHAPE, 1),
        _minus=mark.length() - mark.replace("-", "").length(),
        _opens=mark.startswith("("),
        _closes=mark.endswith(")"),
    )
    digits = parts.mutate(_digits=_decimal_text(parts["_number"]).try_cast("float64"))
    number, minus, opens = digits["_digits"], digits["_minus"], digits["_opens"]
    well_formed = (
        (digits["_number"] != "") & (opens == digits["_closes"]) & (minus + opens.cast("int8") <= 1)
    )
    signed = ibis.ifelse((minus == 1) | opens, -number, number)
    read = ibis.ifelse(well_formed, signed, ibis.null("float64"))
    result = digits.mutate(**{out: digits["_plain"].coalesce(read)})
    return result.drop("_plain", "_marked", "_number", "_minus", "_opens", "_closes", "_digits")
