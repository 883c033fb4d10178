//! The user's interest profile, built on the device from their own events.

pub mod event;
pub mod interest;

pub use event::{Event, EventKind, Item};
pub use interest::{HistoryEntry, InterestProfile, ProfileConfig, StatedInterest};
