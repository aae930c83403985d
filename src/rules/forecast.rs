//! The campaign forecast (SPEC "Following the campaign"): at the pace of the last
//! `window` days, how many of an organisation's remaining cards will be upgraded before
//! the deadline, and when it would be done. Whole days and integers decide; the rate per
//! day is only shown.

/// One night an organisation (or the country) appears on: the night, as days since
/// 1970-01-01, and its `upgraded_total` (upgraded + violation) that night.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Night {
    pub day: i32,
    pub upgraded_total: i64,
}

/// The forecast on the last night T.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// ΔU / Δd, when a night S in the window exists.
    pub rate_per_day: Option<f64>,
    /// The night all remaining cards would be upgraded at this pace: T if none remain,
    /// none if the pace is unknown or not positive.
    pub projected_done: Option<i32>,
    /// max(0, deadline − T − 1): the days after T on which upgrades still count.
    pub days_left: i64,
    /// Remaining cards the pace will not reach before the deadline.
    pub shortfall: i64,
}

impl Forecast {
    pub fn on_track(&self) -> bool {
        self.shortfall == 0
    }
}

/// The forecast for `remaining` cards on the last night `last`, from the nights the
/// organisation appears on (`history`, any order, `last` among them), the window in days
/// and the deadline (the first day on which upgrades no longer count).
pub fn forecast(last: Night, remaining: i64, history: &[Night], window: i32, deadline: i32) -> Forecast {
    // S: the earliest night in [T − window, T).
    let start = history.iter().filter(|n| n.day >= last.day - window && n.day < last.day).min_by_key(|n| n.day);
    let pace = start.map(|s| (last.upgraded_total - s.upgraded_total, i64::from(last.day - s.day)));
    let days_left = (i64::from(deadline) - i64::from(last.day) - 1).max(0);
    // Only a positive pace reaches any card.
    let rising = pace.filter(|&(du, _)| du > 0);
    let expected = rising.map_or(0, |(du, dd)| {
        let reach = i128::from(du) * i128::from(days_left) / i128::from(dd);
        remaining.min(i64::try_from(reach).unwrap_or(i64::MAX))
    });
    let projected_done = if remaining == 0 {
        Some(last.day)
    } else {
        rising.and_then(|(du, dd)| {
            // All three are positive here.
            let days =
                (remaining.unsigned_abs() as u128 * dd.unsigned_abs() as u128).div_ceil(du.unsigned_abs() as u128);
            i32::try_from(i128::from(last.day) + i128::try_from(days).ok()?).ok()
        })
    };
    Forecast {
        rate_per_day: pace.map(|(du, dd)| du as f64 / dd as f64),
        projected_done,
        days_left,
        shortfall: remaining - expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days of December 2021 (1 December = 18962).
    fn dec(d: i32) -> i32 {
        18_961 + d
    }

    fn n(day: i32, upgraded_total: i64) -> Night {
        Night { day, upgraded_total }
    }

    /// The deadline of the notice: 9 December 2021.
    const DEADLINE: i32 = 18_961 + 9;

    #[test]
    fn days_left_counts_the_days_after_the_last_night_before_the_deadline() {
        let last = n(dec(1), 0);
        assert_eq!(forecast(last, 0, &[last], 7, DEADLINE).days_left, 7, "2nd to 8th December");
        let last = n(dec(8), 0);
        assert_eq!(forecast(last, 0, &[last], 7, DEADLINE).days_left, 0, "the last day itself");
        let last = n(dec(20), 0);
        assert_eq!(forecast(last, 5, &[last], 7, DEADLINE).days_left, 0, "the deadline has passed");
    }

    #[test]
    fn nothing_remaining_is_done_and_on_track() {
        let h = [n(dec(1), 10), n(dec(2), 10)];
        let f = forecast(h[1], 0, &h, 7, DEADLINE);
        assert_eq!(f.projected_done, Some(dec(2)));
        assert_eq!(f.shortfall, 0);
        assert!(f.on_track());
        assert_eq!(f.rate_per_day, Some(0.0));
    }

    #[test]
    fn a_steady_pace_projects_with_floor_and_ceiling() {
        // 6 upgraded over the 2 days since S: 3 a day, with 7 days left.
        let h = [n(dec(1) - 2, 0), n(dec(1) - 1, 4), n(dec(1), 6)];
        let last = h[2];
        // T − S = 2: the window of 7 reaches back past S = T − 2, the earliest.
        let f = forecast(last, 20, &h, 7, DEADLINE);
        assert_eq!(f.rate_per_day, Some(3.0));
        assert_eq!(f.days_left, 7);
        // ⌊6 · 7 / 2⌋ = 21 → min(20, 21) = 20: on track.
        assert_eq!((f.shortfall, f.on_track()), (0, true));
        // ⌈20 · 2 / 6⌉ = 7 days.
        assert_eq!(f.projected_done, Some(dec(8)));
        // ⌈18 · 2 / 6⌉ = 6 exactly: divisible, not rounded up.
        assert_eq!(forecast(last, 18, &h, 7, DEADLINE).projected_done, Some(dec(7)));
        // 22 remaining: ⌊21⌋ expected, 1 short; ⌈22 · 2 / 6⌉ = ⌈7.33⌉ = 8 days.
        let f = forecast(last, 22, &h, 7, DEADLINE);
        assert_eq!((f.shortfall, f.projected_done), (1, Some(dec(9))));
    }

    #[test]
    fn the_floor_is_exact_at_the_boundary() {
        // ΔU = 3 over Δd = 2, days_left = 6 (T = 2 December): 3 · 6 / 2 = 9 exactly.
        let h = [n(dec(0), 0), n(dec(2), 3)];
        assert_eq!(forecast(h[1], 9, &h, 7, DEADLINE).shortfall, 0);
        assert_eq!(forecast(h[1], 10, &h, 7, DEADLINE).shortfall, 1);
        // days_left = 5 (T = 3 December): 3 · 5 / 2 = 7.5 → 7.
        let h = [n(dec(1), 0), n(dec(3), 3)];
        assert_eq!(forecast(h[1], 9, &h, 7, DEADLINE).shortfall, 2);
    }

    #[test]
    fn no_progress_or_going_back_expects_nothing() {
        for du in [0, -3] {
            let h = [n(dec(1), 10), n(dec(2), 10 + du)];
            let f = forecast(h[1], 5, &h, 7, DEADLINE);
            assert_eq!(f.shortfall, 5, "ΔU = {du}");
            assert_eq!(f.projected_done, None);
            assert_eq!(f.rate_per_day, Some(du as f64));
        }
    }

    #[test]
    fn a_single_night_or_a_first_appearance_has_no_rate() {
        let last = n(dec(2), 4);
        let f = forecast(last, 5, &[last], 7, DEADLINE);
        assert_eq!((f.rate_per_day, f.projected_done, f.shortfall), (None, None, 5));
        // Nights before the window do not count.
        let h = [n(dec(2) - 8, 0), last];
        assert_eq!(forecast(last, 5, &h, 7, DEADLINE).rate_per_day, None);
        // Exactly T − window is inside it.
        let h = [n(dec(2) - 7, 0), last];
        assert_eq!(forecast(last, 5, &h, 7, DEADLINE).rate_per_day, Some(4.0 / 7.0));
    }

    #[test]
    fn a_gap_in_the_nights_uses_the_days_between() {
        // Nights on the 1st and 5th only: Δd = 4.
        let h = [n(dec(5), 12), n(dec(1), 4)];
        let f = forecast(h[0], 8, &h, 7, DEADLINE);
        assert_eq!(f.rate_per_day, Some(2.0));
        // days_left 3: ⌊8 · 3 / 4⌋ = 6; 2 short. ⌈8 · 4 / 8⌉ = 4 days.
        assert_eq!((f.shortfall, f.projected_done), (2, Some(dec(9))));
    }

    #[test]
    fn after_the_deadline_every_remaining_card_is_short() {
        let h = [n(dec(10), 0), n(dec(12), 10)];
        let f = forecast(h[1], 3, &h, 7, DEADLINE);
        assert_eq!((f.days_left, f.shortfall, f.on_track()), (0, 3, false));
        assert_eq!(f.projected_done, Some(dec(13)), "⌈3 · 2 / 10⌉ = 1 day");
    }
}
