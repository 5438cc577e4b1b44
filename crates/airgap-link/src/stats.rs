//! Link statistics: lock-free counters shared by a link's task and its handles, and
//! the per-sender sequence tracker that turns sequence numbers into loss counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

macro_rules! link_stats {
    ($($(#[$doc:meta])* $field:ident),* $(,)?) => {
        /// A snapshot of a link's counters.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
        pub struct LinkStats {
            $($(#[$doc])* pub $field: u64,)*
        }

        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $field: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> LinkStats {
                LinkStats {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

link_stats! {
    /// Frames delivered as [`LinkEvent::Frame`](crate::LinkEvent::Frame).
    rx_frames,
    /// Frames written to the transport (a duplicated frame counts twice).
    tx_frames,
    /// Bytes received, before parsing.
    rx_bytes,
    /// Bytes written.
    tx_bytes,
    /// Candidate frames with a bad checksum.
    crc_errors,
    /// Well-formed frames whose message the dialect lacks.
    unknown_msgs,
    /// Frames with a valid checksum whose payload did not decode.
    malformed,
    /// Received bytes that were not part of any frame.
    junk_bytes,
    /// Frames missing according to the senders' sequence numbers.
    seq_gaps,
    /// Frames received twice in a row with the same sequence number.
    duplicates,
    /// Outgoing frames dropped: writer queue full, no peer to send to, or the transport down.
    tx_dropped,
    /// Damaged stretches skipped in a replayed log.
    bad_records,
    /// Frames dropped by fault injection (both directions).
    injected_loss,
    /// Frames duplicated by fault injection (both directions).
    injected_dup,
    /// Frames corrupted by fault injection (both directions).
    injected_corrupt,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Cheap handle to a link's live counters.
#[derive(Clone, Debug)]
pub struct LinkStatsHandle(pub(crate) Arc<Counters>);

impl LinkStatsHandle {
    pub fn snapshot(&self) -> LinkStats {
        self.0.snapshot()
    }
}

/// Sequence numbers seen last, per sender `(sysid, compid)`.
#[derive(Debug, Default)]
pub(crate) struct SeqTracker {
    last: HashMap<(u8, u8), u8>,
}

/// What one received sequence number says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqObservation {
    /// First frame from this sender, or the next number in order.
    InOrder,
    /// This many frames went missing before this one.
    Gap(u8),
    /// Same number as the previous frame: a duplicate, not 255 lost frames.
    Duplicate,
}

impl SeqTracker {
    pub(crate) fn observe(&mut self, sysid: u8, compid: u8, seq: u8) -> SeqObservation {
        match self.last.insert((sysid, compid), seq) {
            None => SeqObservation::InOrder,
            Some(last) if last == seq => SeqObservation::Duplicate,
            Some(last) => match seq.wrapping_sub(last).wrapping_sub(1) {
                0 => SeqObservation::InOrder,
                missing => SeqObservation::Gap(missing),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_wrap_around_and_are_kept_per_sender() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(1, 1, 250), SeqObservation::InOrder);
        assert_eq!(t.observe(1, 1, 251), SeqObservation::InOrder);
        assert_eq!(t.observe(1, 1, 2), SeqObservation::Gap(6)); // 252..=255, 0, 1
        assert_eq!(t.observe(1, 1, 2), SeqObservation::Duplicate);
        assert_eq!(t.observe(2, 1, 9), SeqObservation::InOrder);
        assert_eq!(t.observe(1, 2, 0), SeqObservation::InOrder);
        assert_eq!(t.observe(1, 1, 3), SeqObservation::InOrder);
        assert_eq!(t.observe(1, 1, 255), SeqObservation::Gap(251));
        assert_eq!(t.observe(1, 1, 0), SeqObservation::InOrder);
    }

    #[test]
    fn snapshot_reads_every_counter() {
        let counters = Counters::default();
        Counters::add(&counters.rx_frames, 3);
        Counters::add(&counters.injected_corrupt, 2);
        let stats = LinkStatsHandle(Arc::new(counters)).snapshot();
        assert_eq!(stats.rx_frames, 3);
        assert_eq!(stats.injected_corrupt, 2);
        assert_eq!(stats.tx_frames, 0);
    }
}
