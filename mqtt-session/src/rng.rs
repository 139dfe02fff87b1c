//! A small deterministic PRNG (SplitMix64) seeded by the caller: the same seed
//! gives the same jitter and the same generated client identifiers.

/// SplitMix64: tiny, fast, and good enough for jitter and identifiers (not for keys).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
        }
    }
}

/// Characters every server must accept in a client identifier (MQTT 5.0 §3.1.3.1).
const ID_CHARS: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Generates a client identifier every server must accept: 23 characters from
/// `[0-9a-zA-Z]`, starting with `prefix` (truncated to fit).
///
/// Persist the result and pass it on every start: a new identifier per start
/// throws away the broker's session for this client.
///
/// ```
/// let id = mqtt_session::generate_client_id("dev-", 42);
/// assert_eq!(id.len(), 23);
/// assert_eq!(id, mqtt_session::generate_client_id("dev-", 42)); // same seed, same id
/// ```
pub fn generate_client_id(prefix: &str, seed: u64) -> heapless::String<23> {
    let mut rng = Rng::new(seed);
    let mut id = heapless::String::new();
    for c in prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
    {
        let _ = id.push(c);
    }
    while id.len() < 23 {
        let i = rng.below(ID_CHARS.len() as u64) as usize;
        let c = ID_CHARS.get(i).copied().unwrap_or(b'0');
        let _ = id.push(char::from(c));
    }
    id
}
