//! Bounded time series for plots: one ring per message group, columns aligned on time.
//!
//! A group holds the fields one message carries (ATTITUDE → roll, pitch, yaw), so every row
//! is complete and a chart can plot the columns against one time axis. Memory is bounded by
//! a row capacity per group; the oldest rows are dropped first.

use std::collections::VecDeque;

/// Rows kept per group: 30 minutes of ATTITUDE at 10 Hz.
pub const DEFAULT_CAPACITY: usize = 18_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Attitude,
    Altitude,
    Speed,
    Battery,
}

impl Group {
    pub const ALL: [Group; 4] = [
        Group::Attitude,
        Group::Altitude,
        Group::Speed,
        Group::Battery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Attitude => "attitude",
            Group::Altitude => "altitude",
            Group::Speed => "speed",
            Group::Battery => "battery",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Group::Attitude => &["roll_deg", "pitch_deg", "yaw_deg"],
            Group::Altitude => &["alt_rel_m", "alt_msl_m"],
            Group::Speed => &["groundspeed_m_s", "airspeed_m_s", "climb_m_s"],
            Group::Battery => &["battery_v", "battery_a"],
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The rows of one group. Values are `f32`: plenty for plotting, half the memory.
#[derive(Debug, Clone)]
pub struct Series {
    group: Group,
    capacity: usize,
    t_us: VecDeque<u64>,
    values: Vec<VecDeque<f32>>,
}

impl Series {
    pub fn new(group: Group, capacity: usize) -> Self {
        Series {
            group,
            capacity: capacity.max(1),
            t_us: VecDeque::new(),
            values: vec![VecDeque::new(); group.columns().len()],
        }
    }

    pub fn group(&self) -> Group {
        self.group
    }

    pub fn len(&self) -> usize {
        self.t_us.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t_us.is_empty()
    }

    /// Appends a row; `row` has one value per column.
    pub fn push(&mut self, t_us: u64, row: &[f32]) {
        debug_assert_eq!(row.len(), self.values.len());
        if self.t_us.len() == self.capacity {
            self.t_us.pop_front();
            for column in &mut self.values {
                column.pop_front();
            }
        }
        self.t_us.push_back(t_us);
        for (column, v) in self.values.iter_mut().zip(row) {
            column.push_back(*v);
        }
    }

    /// Time of the newest row.
    pub fn last_t_us(&self) -> Option<u64> {
        self.t_us.back().copied()
    }

    /// Rows strictly newer than `after_us` (all rows for `None`): times and one vector per column.
    pub fn since(&self, after_us: Option<u64>) -> (Vec<u64>, Vec<Vec<f32>>) {
        let start = match after_us {
            Some(t) => self.t_us.partition_point(|&x| x <= t),
            None => 0,
        };
        let times = self.t_us.range(start..).copied().collect();
        let columns = self
            .values
            .iter()
            .map(|c| c.range(start..).copied().collect())
            .collect();
        (times, columns)
    }
}

/// The four groups of one vehicle.
#[derive(Debug, Clone)]
pub struct SeriesSet {
    groups: [Series; 4],
}

impl SeriesSet {
    pub fn new(capacity: usize) -> Self {
        SeriesSet {
            groups: Group::ALL.map(|g| Series::new(g, capacity)),
        }
    }

    pub fn get(&self, group: Group) -> &Series {
        &self.groups[group.index()]
    }

    pub fn push(&mut self, t_us: u64, sample: &crate::state::Sample) {
        self.groups[sample.group.index()].push(t_us, sample.row());
    }

    pub fn iter(&self) -> impl Iterator<Item = &Series> {
        self.groups.iter()
    }
}

impl Default for SeriesSet {
    fn default() -> Self {
        SeriesSet::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_rows_dropping_the_oldest() {
        let mut s = Series::new(Group::Altitude, 3);
        for i in 0..5u64 {
            s.push(i, &[i as f32, 100.0 + i as f32]);
        }
        assert_eq!(s.len(), 3);
        let (t, cols) = s.since(None);
        assert_eq!(t, vec![2, 3, 4]);
        assert_eq!(cols[0], vec![2.0, 3.0, 4.0]);
        assert_eq!(cols[1], vec![102.0, 103.0, 104.0]);
    }

    #[test]
    fn since_returns_only_newer_rows() {
        let mut s = Series::new(Group::Attitude, 10);
        for i in 0..5u64 {
            s.push(i * 10, &[1.0, 2.0, 3.0]);
        }
        assert_eq!(s.since(Some(20)).0, vec![30, 40]);
        assert_eq!(s.since(Some(40)).0, Vec::<u64>::new());
        assert_eq!(s.since(Some(5)).0.len(), 4);
        assert_eq!(s.last_t_us(), Some(40));
    }
}
