//! Arbitrary bytes read as a stream of choices.
//!
//! libFuzzer and proptest both hand over bytes; the generators read their
//! decisions from them through this reader. When the bytes run out every
//! read answers zero, so generation always terminates (lists end, optional
//! fields are left out) and a short input is a small case.

/// Numbers a JavaScript caller can pass where the engine expects one: the
/// edges of every integer type the engine decodes into, the values that
/// break naive float code, and a few ordinary ones.
const NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.5,
    0.5,
    100.0,
    1_000.0,
    4_096.0,
    16_000.0,
    32_000.0,
    16_777_216.0,
    4_294_967_295.0,
    4_294_967_296.0,
    9_007_199_254_740_991.0,
    9_007_199_254_740_992.0,
    -9_007_199_254_740_991.0,
    1e300,
    -1e300,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    f64::EPSILON,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1_795_000_000_000.0,
    1_795_000_000_000.5,
];

/// A cursor over the input bytes.
pub struct Source<'a> {
    data: &'a [u8],
    noise: u8,
}

impl<'a> Source<'a> {
    /// Reads choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Source { data, noise: 0 }
    }

    /// Decides, from the next byte, how often generators bend the shape of
    /// what they build: half of all inputs are well-shaped throughout (so
    /// deep requests reach the engine's rules), the rest break a field now
    /// and then, at a rate that varies from input to input.
    pub fn choose_noise(&mut self) {
        let b = self.byte();
        self.noise = if b < 128 { 0 } else { b % 24 };
    }

    /// How often (out of 256) a generated field is bent out of shape.
    pub fn noise(&self) -> u8 {
        self.noise
    }

    /// Whether every byte has been used.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// The next byte, zero once the input is used up.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    /// A number in `0..n` (zero when `n` is zero).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        if n <= 256 {
            usize::from(self.byte()) % n
        } else {
            (usize::from(self.byte()) << 8 | usize::from(self.byte())) % n
        }
    }

    /// True with probability about `n / 256`.
    pub fn chance(&mut self, n: u8) -> bool {
        // Reading a zero when the input is exhausted makes "yes" the
        // answer for any n > 0, so ask "is the byte at least 256 - n?"
        // instead: exhausted input then answers "no".
        let b = self.byte();
        n > 0 && u16::from(b) >= 256 - u16::from(n)
    }

    /// A fair coin that lands "false" when the input is exhausted.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            *b = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    /// Picks one of `items` (the first when the input is exhausted).
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        let i = self.below(items.len());
        items.get(i).cloned()
    }

    /// A number a JavaScript value could hold, biased towards edge cases.
    pub fn number(&mut self) -> f64 {
        match self.byte() % 8 {
            0..=2 => self.pick(NUMBERS).unwrap_or(0.0),
            3 | 4 => f64::from(self.byte()),
            5 => (self.u64() % 100_000) as f64,
            6 => (self.u64() >> 11) as f64 * if self.flag() { -1.0 } else { 1.0 },
            _ => f64::from_bits(self.u64()),
        }
    }

    /// A whole number a JavaScript value could hold (at most 2^53); with
    /// noise, sometimes any number.
    pub fn count(&mut self) -> f64 {
        if self.chance(self.noise) {
            return self.number();
        }
        match self.byte() % 8 {
            0..=4 => f64::from(self.byte()),
            5 | 6 => (self.u64() % 50_000) as f64,
            _ => (self.u64() >> 11) as f64,
        }
    }

    /// A string: from `pool` most of the time, otherwise raw bytes (lossily
    /// UTF-8), sometimes with characters that need escaping.
    pub fn text(&mut self, pool: &[&str]) -> String {
        match self.byte() % 8 {
            0..=5 => self.pick(pool).unwrap_or_default().to_string(),
            6 => {
                let len = self.below(24);
                let bytes: Vec<u8> = (0..len).map(|_| self.byte()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => {
                const ODD: &[&str] = &[
                    "", " ", "\r\n", "\"", "\\", "\u{0}", "\u{2028}", "é", "👍", "\t", "\u{feff}",
                    "$", "_id", "a.b", "=",
                ];
                let parts = self.below(5);
                (0..parts)
                    .map(|_| self.pick(ODD).unwrap_or_default())
                    .collect()
            }
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift) from `seed`: inputs for the
/// tests that run the generators on bytes no fuzzer chose.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}
