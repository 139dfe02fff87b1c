//! The tokio adapter: one driver task per connection around the session (being written).
