//! Numbers spelled the way JavaScript's `String(n)` spells them, so an error
//! shows the value the person passed rather than Rust's spelling of it.
//!
//! The digits are the shortest that read back as the same `f64`, the closest
//! to it when several are that short (ECMA-262 `Number::toString`). They are
//! found with exact integer arithmetic on the number's binary value rather
//! than through `core::fmt`'s float formatting, which would add some twenty
//! kilobytes to the batch-path Wasm module for the few error messages that
//! show a number.

/// An unsigned integer in base 10⁹, least significant limb first.
struct Big(Vec<u32>);

const LIMB: u64 = 1_000_000_000;

impl Big {
    fn new(value: u64) -> Big {
        let mut limbs = Vec::new();
        let mut rest = value;
        while rest > 0 {
            limbs.push((rest % LIMB) as u32);
            rest /= LIMB;
        }
        Big(limbs)
    }

    /// Multiplies by `factor` (at most 2³²).
    fn mul_small(&mut self, factor: u64) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * factor + carry;
            *limb = (product % LIMB) as u32;
            carry = product / LIMB;
        }
        while carry > 0 {
            self.0.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }

    /// Multiplies by `base` to the power `exp`, in steps of `step = base^per`.
    fn mul_pow(&mut self, base: u64, mut exp: u32, per: u32) {
        let step = base.pow(per);
        while exp >= per {
            self.mul_small(step);
            exp -= per;
        }
        if exp > 0 {
            self.mul_small(base.pow(exp));
        }
    }

    /// Decimal digits (as values 0–9), most significant first, no leading zero.
    fn digits(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, limb) in self.0.iter().rev().enumerate() {
            let mut chunk = [0u8; 9];
            let mut rest = *limb;
            for slot in chunk.iter_mut().rev() {
                *slot = (rest % 10) as u8;
                rest /= 10;
            }
            if i == 0 {
                let first = chunk.iter().position(|&d| d != 0).unwrap_or(8);
                out.extend_from_slice(&chunk[first..]);
            } else {
                out.extend_from_slice(&chunk);
            }
        }
        out
    }
}

/// `a` compared with `b`, both digit strings without leading zeros.
fn cmp_digits(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Strips leading zeros.
fn trim(digits: &[u8]) -> &[u8] {
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    &digits[first..]
}

/// Adds one to a digit string in place; returns whether it grew a digit.
fn increment(digits: &mut Vec<u8>) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return false;
        }
    }
    digits.insert(0, 1);
    true
}

/// The shortest digits `s` and the exponent `n` with `0.s × 10ⁿ` reading back
/// as `value` (finite and above zero), the closest such when there are two.
fn shortest(value: f64) -> (Vec<u8>, i32) {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // The interval of reals that round to `value`, on one scale 2^s: its
    // lower half-gap is half as wide just above a power of two.
    let (v, lo, hi, s) = if fraction == 0 && biased > 1 {
        (4 * m, 4 * m - 1, 4 * m + 2, e - 2)
    } else {
        (2 * m, 2 * m - 1, 2 * m + 1, e - 1)
    };
    let inclusive = m % 2 == 0;
    // Each as an integer times 10^t.
    let scaled = |x: u64| {
        let mut big = Big::new(x);
        if s >= 0 {
            big.mul_pow(2, s as u32, 29);
        } else {
            big.mul_pow(5, (-s) as u32, 12);
        }
        big.digits()
    };
    let t = s.min(0);
    let (dv, dlo, dhi) = (scaled(v), scaled(lo), scaled(hi));
    let len = dv.len();
    let within = |candidate: &[u8]| {
        let low = cmp_digits(candidate, trim(&dlo));
        let high = cmp_digits(candidate, trim(&dhi));
        if inclusive {
            low.is_ge() && high.is_le()
        } else {
            low.is_gt() && high.is_lt()
        }
    };
    for k in 1..=len {
        let rest = &dv[k..];
        let exact = rest.iter().all(|&d| d == 0);
        // Below: the first k digits, padded back to full length.
        let mut down = dv[..k].to_vec();
        if exact {
            return finish(down, len as i32 + t);
        }
        let mut below = down.clone();
        below.resize(len, 0);
        let mut up = down.clone();
        let grew = increment(&mut up);
        let mut above = up.clone();
        above.resize(len + usize::from(grew), 0);
        let (fits_down, fits_up) = (within(&below), within(&above));
        let pick_up = match (fits_down, fits_up) {
            (false, false) => continue,
            (true, false) => false,
            (false, true) => true,
            (true, true) => {
                // The closer one; on a tie, the even one.
                let mut half = vec![5u8];
                half.resize(rest.len(), 0);
                match rest.cmp(&half[..]) {
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Equal => down[k - 1] % 2 == 1,
                }
            }
        };
        if pick_up {
            return finish(up, len as i32 + t + i32::from(grew));
        }
        down.truncate(k);
        return finish(down, len as i32 + t);
    }
    finish(dv, len as i32 + t)
}

/// Drops trailing zeros (the exponent already places the digits).
fn finish(mut digits: Vec<u8>, n: i32) -> (Vec<u8>, i32) {
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    (digits, n)
}

/// A small integer in decimal.
fn push_int(out: &mut String, value: u32) {
    out.push_str(&value.to_string());
}

/// `String(value)` as JavaScript gives it: `2.5`, `-5`, `1e+21`, `1e-7`,
/// `NaN`, `Infinity`.
pub(crate) fn js_number_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let mut out = String::new();
    if value < 0.0 {
        out.push('-');
    }
    let magnitude = value.abs();
    if magnitude.is_infinite() {
        out.push_str("Infinity");
        return out;
    }
    let (digits, n) = shortest(magnitude);
    let k = digits.len() as i32;
    let text: String = digits.iter().map(|&d| char::from(b'0' + d)).collect();
    if k <= n && n <= 21 {
        out.push_str(&text);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&text[..n as usize]);
        out.push('.');
        out.push_str(&text[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&text);
    } else {
        out.push_str(&text[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&text[1..]);
        }
        out.push('e');
        out.push(if n >= 1 { '+' } else { '-' });
        push_int(&mut out, (n - 1).unsigned_abs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The same spelling through Rust's own float formatting (shortest
    /// digits that read back, as `String(n)` has them).
    fn through_core_fmt(value: f64) -> String {
        if value.is_nan() {
            return "NaN".into();
        }
        if value.is_infinite() {
            return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
        }
        if value == 0.0 {
            return "0".into();
        }
        let magnitude = value.abs();
        if (1e-6..1e21).contains(&magnitude) {
            return format!("{value}");
        }
        let text = format!("{value:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => text,
        }
    }

    #[test]
    fn spells_numbers_as_javascript_does() {
        for (value, shown) in [
            (0.0, "0"),
            (-0.0, "0"),
            (-5.0, "-5"),
            (2.5, "2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e9, "1000000000"),
            (16_001.0, "16001"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.5e-10, "1.5e-10"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (2f64.powi(60), "1152921504606847000"),
            // Halfway between .2 and .3, both of which read back: the even
            // one, as V8 prints it (Rust's formatting takes .3).
            (f64::from_bits(4832327075204158610), "1121484286294674.2"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(js_number_string(value), shown, "{value:e}");
        }
    }

    /// `ours` is JavaScript's spelling given `core`'s: the same, or as short
    /// with an even last digit where `core` rounded a tie up; and it reads
    /// back as `value`.
    fn check(value: f64, ours: &str, core: &str) -> Result<(), TestCaseError> {
        if value.is_finite() {
            let back: f64 = ours
                .parse()
                .map_err(|_| TestCaseError::fail(format!("{ours} parses")))?;
            prop_assert_eq!(
                back.to_bits(),
                (value + 0.0).to_bits(),
                "{} reads back",
                ours
            );
        }
        if ours != core {
            prop_assert_eq!(ours.len(), core.len(), "{} as short as {}", ours, core);
            let last = |s: &str| s.split('e').next().unwrap().bytes().last().unwrap();
            prop_assert!(
                last(ours) % 2 == 0 && last(core) == last(ours) + 1,
                "{} vs {}",
                ours,
                core
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_core_fmt_on_any_bits(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            check(value, &js_number_string(value), &through_core_fmt(value))?;
        }

        #[test]
        fn agrees_with_core_fmt_on_everyday_numbers(value in -1e7f64..1e7) {
            check(value, &js_number_string(value), &through_core_fmt(value))?;
        }

        #[test]
        fn agrees_with_core_fmt_on_short_decimals(n in -1_000_000i64..1_000_000, scale in 0i32..12) {
            let value = n as f64 / 10f64.powi(scale);
            check(value, &js_number_string(value), &through_core_fmt(value))?;
        }
    }
}
