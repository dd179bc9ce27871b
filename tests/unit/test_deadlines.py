"""Deadlines: every expected date below was worked out by hand from a 2025-2028 calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from domain.deadlines import (
    AMSTERDAM,
    Deadline,
    Period,
    Rule,
    Unit,
    add_months,
    atw_holidays,
    compute,
    describe,
    is_working_day,
    next_working_day,
)

ONE_WEEK = Period(1, Unit.WEEKS, Rule.ATW, "Vw 2000 art. 30c")


def _at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=AMSTERDAM)


def _ends(start: datetime, period: Period) -> date:
    return compute(start, period).end_date


# --- The example from the issue --------------------------------------------------------


def test_one_week_from_saturday_ends_on_saturday_and_moves_to_monday() -> None:
    deadline = compute(_at(2026, 11, 28), ONE_WEEK)

    assert deadline == Deadline(
        due=_end_of(date(2026, 12, 7)),
        end_date=date(2026, 12, 7),
        basis="Vw 2000 art. 30c",
        explanation="1 week from 2026-11-28 ends Sat 2026-12-05; Atw art. 1 moves it to Mon 2026-12-07",
    )
    assert deadline.due.utcoffset() == timedelta(hours=1)


def test_starting_day_is_the_amsterdam_date_not_the_utc_date() -> None:
    # 23:30 UTC on Friday 27 November is 00:30 on Saturday 28 November in Amsterdam.
    start = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)

    assert _ends(start, ONE_WEEK) == date(2026, 12, 7)
    assert compute(start, ONE_WEEK).explanation.startswith("1 week from 2026-11-28 ")


def test_period_ending_on_a_working_day_is_not_moved() -> None:
    deadline = compute(_at(2026, 11, 30), ONE_WEEK)

    assert deadline.end_date == date(2026, 12, 7)
    assert deadline.explanation == "1 week from 2026-11-30 ends Mon 2026-12-07, a working day, so the Atw does not move it"


# --- Holidays moving the end date (Atw art. 1) -----------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "holiday"),
    [
        # Fri 25 Dec 2026 Christmas, Sat 26 Boxing Day, Sun 27 -> Mon 28.
        (date(2026, 12, 18), date(2026, 12, 28), "Christmas Day"),
        # Thu 25 Dec 2025 Christmas, Fri 26 Boxing Day, weekend -> Mon 29.
        (date(2025, 12, 18), date(2025, 12, 29), "Christmas Day"),
        # Fri 26 Dec 2025 Boxing Day, weekend -> Mon 29.
        (date(2025, 12, 19), date(2025, 12, 29), "Boxing Day"),
        # Thu 1 Jan 2026 New Year's Day -> Fri 2 Jan.
        (date(2025, 12, 25), date(2026, 1, 2), "New Year's Day"),
        # Fri 1 Jan 2027 New Year's Day, weekend -> Mon 4 Jan.
        (date(2026, 12, 25), date(2027, 1, 4), "New Year's Day"),
        # Mon 6 Apr 2026 Easter Monday -> Tue 7 Apr.
        (date(2026, 3, 30), date(2026, 4, 7), "Easter Monday"),
        # Fri 3 Apr 2026 Good Friday, weekend, Easter Monday -> Tue 7 Apr.
        (date(2026, 3, 27), date(2026, 4, 7), "Good Friday"),
        # Mon 27 Apr 2026 King's Day -> Tue 28 Apr.
        (date(2026, 4, 20), date(2026, 4, 28), "King's Day"),
        # Tue 5 May 2026 Liberation Day (a non-lustrum year) -> Wed 6 May.
        (date(2026, 4, 28), date(2026, 5, 6), "Liberation Day"),
        # Thu 14 May 2026 Ascension Day -> Fri 15 May.
        (date(2026, 5, 7), date(2026, 5, 15), "Ascension Day"),
        # Mon 25 May 2026 Whit Monday -> Tue 26 May.
        (date(2026, 5, 18), date(2026, 5, 26), "Whit Monday"),
    ],
)
def test_one_week_ending_on_a_holiday_moves_to_the_next_working_day(start: date, end: date, holiday: str) -> None:
    deadline = compute(_at(start.year, start.month, start.day), ONE_WEEK)

    assert deadline.end_date == end
    assert deadline.due == _end_of(end)
    assert f"({holiday})" in deadline.explanation
    assert "Atw art. 1 moves it to" in deadline.explanation


def test_kings_day_is_27_april_or_26_april_when_the_27th_is_a_sunday() -> None:
    assert atw_holidays(2026)[date(2026, 4, 27)] == "King's Day"  # a Monday
    # 27 April 2025 was a Sunday; it was celebrated on Saturday 26 April.
    assert atw_holidays(2025)[date(2025, 4, 26)] == "King's Day"
    assert date(2025, 4, 27) not in atw_holidays(2025)


def test_atw_calendar_2026_differs_from_the_holidays_package() -> None:
    package = holidays.country_holidays("NL", years=2026, language="en_US")
    atw = atw_holidays(2026)

    # The package has Liberation Day only in lustrum years (2025, 2030); the Atw every year.
    assert date(2026, 5, 5) not in package
    assert atw[date(2026, 5, 5)] == "Liberation Day"
    assert set(atw) - set(package) == {date(2026, 5, 5)}
    # The package lists Easter Sunday and Whit Sunday; the Atw covers them as Sundays.
    assert set(package) - set(atw) == {date(2026, 4, 5), date(2026, 5, 24)}


def test_atw_calendar_2026_in_full() -> None:
    assert atw_holidays(2026) == {
        date(2026, 1, 1): "New Year's Day",
        date(2026, 4, 3): "Good Friday",
        date(2026, 4, 6): "Easter Monday",
        date(2026, 4, 27): "King's Day",
        date(2026, 5, 5): "Liberation Day",
        date(2026, 5, 14): "Ascension Day",
        date(2026, 5, 25): "Whit Monday",
        date(2026, 12, 25): "Christmas Day",
        date(2026, 12, 26): "Boxing Day",
    }


def test_good_friday_is_not_a_working_day() -> None:
    assert not is_working_day(date(2026, 4, 3))
    assert is_working_day(date(2026, 4, 2))


def test_next_working_day_is_strictly_after() -> None:
    assert next_working_day(date(2026, 12, 7)) == date(2026, 12, 8)  # Mon -> Tue
    assert next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)  # over Christmas
    assert next_working_day(date(2026, 4, 2)) == date(2026, 4, 7)  # over Easter


def test_years_outside_the_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="2101"):
        is_working_day(date(2101, 1, 3))
    with pytest.raises(ValueError, match="1999"):
        atw_holidays(1999)


# --- At least two working days (Atw art. 2) --------------------------------------------


def test_three_days_from_thursday_before_christmas_needs_art_1_and_art_2() -> None:
    # Fri 25 and Sat 26 Dec are holidays, Sun 27 ends the period; art. 1 gives Mon 28,
    # which is only one working day, so art. 2 extends to Tue 29.
    deadline = compute(_at(2026, 12, 24), Period(3, Unit.DAYS, Rule.ATW, "test"))

    assert deadline.end_date == date(2026, 12, 29)
    assert deadline.explanation == (
        "3 days from 2026-12-24 ends Sun 2026-12-27; Atw art. 1 moves it to Mon 2026-12-28"
        " and Atw art. 2 (at least two working days) to Tue 2026-12-29"
    )


def test_three_days_from_maundy_thursday_runs_to_wednesday_after_easter() -> None:
    # Good Friday, Sat, Sun (end), Easter Monday: art. 1 gives Tue 7 Apr, art. 2 Wed 8 Apr.
    assert _ends(_at(2026, 4, 2), Period(3, Unit.DAYS, Rule.ATW, "test")) == date(2026, 4, 8)


def test_three_days_from_friday_ending_on_monday_is_extended_by_art_2_alone() -> None:
    deadline = compute(_at(2026, 12, 4), Period(3, Unit.DAYS, Rule.ATW, "test"))

    assert deadline.end_date == date(2026, 12, 8)
    assert deadline.explanation == (
        "3 days from 2026-12-04 ends Mon 2026-12-07; Atw art. 2 (at least two working days) moves it to Tue 2026-12-08"
    )


def test_art_2_does_not_apply_to_two_days() -> None:
    # Fri -> Sun, art. 1 -> Mon; one working day is enough for a period under three days.
    assert _ends(_at(2026, 12, 4), Period(2, Unit.DAYS, Rule.ATW, "test")) == date(2026, 12, 7)


def test_one_day_response_period_from_friday_ends_monday() -> None:
    assert _ends(_at(2026, 12, 4), Period(1, Unit.DAYS, Rule.ATW, "test")) == date(2026, 12, 7)


# --- Periods the Atw does not move -----------------------------------------------------


def test_four_hours_is_not_moved_even_onto_christmas() -> None:
    start = _at(2026, 12, 24, 22, 0)
    deadline = compute(start, Period(4, Unit.HOURS, Rule.ATW, "Vw 2000 art. 30c"))

    assert deadline.due == datetime(2026, 12, 25, 2, 0, tzinfo=AMSTERDAM)
    assert deadline.end_date == date(2026, 12, 25)
    assert deadline.explanation == (
        "4 hours from Thu 2026-12-24 22:00 CET ends Fri 2026-12-25 02:00 CET; periods in hours are not moved by the Atw"
    )


def test_six_months_is_not_moved_even_onto_a_sunday() -> None:
    deadline = compute(_at(2026, 6, 6), Period(6, Unit.MONTHS, Rule.ATW, "Vw 2000 art. 42"))

    assert deadline.end_date == date(2026, 12, 6)  # a Sunday
    assert deadline.due == _end_of(date(2026, 12, 6))
    assert deadline.explanation == (
        "6 months from 2026-06-06 ends Sun 2026-12-06; longer than 3 months, so the Atw does not move it"
    )


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        # Each nominal end is Sunday 7 June 2026: moved at the Atw limit, not beyond it.
        (date(2026, 3, 9), Period(90, Unit.DAYS, Rule.ATW, "t"), date(2026, 6, 8)),
        (date(2026, 3, 8), Period(91, Unit.DAYS, Rule.ATW, "t"), date(2026, 6, 7)),
        (date(2026, 3, 15), Period(12, Unit.WEEKS, Rule.ATW, "t"), date(2026, 6, 8)),
        (date(2026, 3, 8), Period(13, Unit.WEEKS, Rule.ATW, "t"), date(2026, 6, 7)),
        (date(2026, 3, 7), Period(3, Unit.MONTHS, Rule.ATW, "t"), date(2026, 6, 8)),
        (date(2026, 2, 7), Period(4, Unit.MONTHS, Rule.ATW, "t"), date(2026, 6, 7)),
        (date(2025, 6, 7), Period(1, Unit.YEARS, Rule.ATW, "t"), date(2026, 6, 7)),
    ],
)
def test_atw_limit_of_90_days_12_weeks_3_months(start: date, period: Period, end: date) -> None:
    assert _ends(_at(start.year, start.month, start.day), period) == end


def test_rule_none_is_never_moved() -> None:
    deadline = compute(_at(2026, 11, 28), Period(1, Unit.WEEKS, Rule.NONE, "IND planning"))

    assert deadline.end_date == date(2026, 12, 5)  # a Saturday
    assert "neither the Atw nor Regulation 1182/71 applies" in deadline.explanation


# --- EU Regulation 1182/71 -------------------------------------------------------------


def test_eu_two_months_ending_on_a_saturday_moves_to_monday() -> None:
    deadline = compute(_at(2026, 6, 15), Period(2, Unit.MONTHS, Rule.EU, "APR art. 35(1)"))

    assert deadline.end_date == date(2026, 8, 17)
    assert deadline.explanation == (
        "2 months from 2026-06-15 ends Sat 2026-08-15; Regulation 1182/71 art. 3(4) moves it to Mon 2026-08-17"
    )


def test_eu_moves_periods_of_any_length() -> None:
    # The same Sunday end the Atw leaves alone for a 6-month period.
    assert _ends(_at(2026, 6, 6), Period(6, Unit.MONTHS, Rule.EU, "t")) == date(2026, 12, 7)


def test_eu_does_not_move_hours() -> None:
    deadline = compute(_at(2026, 12, 24, 22, 0), Period(4, Unit.HOURS, Rule.EU, "t"))

    assert deadline.due == datetime(2026, 12, 25, 2, 0, tzinfo=AMSTERDAM)


# --- Calendar months -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), -6, date(2026, 2, 28)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # across the year end
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 1, 15), 0, date(2026, 1, 15)),
    ],
)
def test_add_months_clamps_to_the_last_day_of_the_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_one_month_from_31_january_ends_28_february_then_moves_to_monday() -> None:
    # Sat 28 Feb 2026 -> Mon 2 Mar.
    deadline = compute(_at(2026, 1, 31), Period(1, Unit.MONTHS, Rule.ATW, "t"))

    assert deadline.end_date == date(2026, 3, 2)
    assert "ends Sat 2026-02-28;" in deadline.explanation


# --- Hours across daylight saving time -------------------------------------------------


def test_four_hours_across_the_end_of_summer_time_are_four_real_hours() -> None:
    # Sun 25 Oct 2026 03:00 CEST becomes 02:00 CET: 00:30 CEST + 4 h = 03:30 CET.
    deadline = compute(_at(2026, 10, 25, 0, 30), Period(4, Unit.HOURS, Rule.ATW, "t"))

    assert deadline.due == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    assert deadline.due.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "03:30 CET"
    assert deadline.explanation.startswith("4 hours from Sun 2026-10-25 00:30 CEST ends Sun 2026-10-25 03:30 CET;")


def test_four_hours_across_the_start_of_summer_time_are_four_real_hours() -> None:
    # Sun 29 Mar 2026 02:00 CET becomes 03:00 CEST: 00:30 CET + 4 h = 05:30 CEST.
    deadline = compute(_at(2026, 3, 29, 0, 30), Period(4, Unit.HOURS, Rule.ATW, "t"))

    assert deadline.due == datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    assert deadline.due.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "05:30 CEST"


def test_day_periods_end_at_the_end_of_the_dutch_day_in_summer_time() -> None:
    deadline = compute(_at(2026, 6, 1), ONE_WEEK)  # Mon -> Mon 8 Jun

    assert deadline.due == datetime(2026, 6, 8, 21, 59, 59, tzinfo=UTC)


# --- Inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "text"),
    [
        (Period(1, Unit.WEEKS, Rule.ATW, "t"), "1 week"),
        (Period(2, Unit.WEEKS, Rule.ATW, "t"), "2 weeks"),
        (Period(1, Unit.HOURS, Rule.ATW, "t"), "1 hour"),
        (Period(4, Unit.HOURS, Rule.ATW, "t"), "4 hours"),
        (Period(1, Unit.DAYS, Rule.ATW, "t"), "1 day"),
        (Period(6, Unit.MONTHS, Rule.ATW, "t"), "6 months"),
        (Period(5, Unit.YEARS, Rule.NONE, "t"), "5 years"),
    ],
)
def test_describe(period: Period, text: str) -> None:
    assert describe(period) == text


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compute(datetime(2026, 11, 28, 10, 0), ONE_WEEK)


@pytest.mark.parametrize("amount", [0, -1])
def test_period_must_be_positive(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        Period(amount, Unit.DAYS, Rule.ATW, "t")


def test_period_from_plain_strings_behaves_like_a_typed_one() -> None:
    period = Period(1, "weeks", "atw", "Vw 2000 art. 30c")  # type: ignore[arg-type]

    assert period == ONE_WEEK
    assert _ends(_at(2026, 11, 28), period) == date(2026, 12, 7)
