//! The little of JSON text that reading a cursor needs: whether a text is
//! one JSON array (and its top-level items, strings decoded) or one JSON
//! string. It accepts exactly the texts `serde_json::from_str` accepts (the
//! tests compare the two), but carries no parser of numbers into floats or
//! tree of values, which the batch-path Wasm module would otherwise ship.

/// A top-level item of an array: a string (decoded), or anything else.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Str(String),
    Other,
}

/// The items of `text` when it is one JSON array, `None` when it is not
/// JSON or not an array.
pub(crate) fn array_items(text: &str) -> Option<Vec<Item>> {
    let mut p = Parser::new(text);
    p.ws();
    if p.peek() != Some(b'[') {
        return None;
    }
    let items = p.array(true)?;
    p.end()?;
    Some(items)
}

/// The string `text` holds when it is one JSON string.
pub(crate) fn string(text: &str) -> Option<String> {
    let mut p = Parser::new(text);
    p.ws();
    let s = p.string()?;
    p.end()?;
    Some(s)
}

/// serde_json refuses a text nested this deep or deeper.
const DEPTH_LIMIT: u32 = 128;

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.pos == self.bytes.len()).then_some(())
    }

    /// One value; `Some(Item)` when it is well formed.
    fn value(&mut self) -> Option<Item> {
        match self.peek()? {
            b'"' => self.string().map(Item::Str),
            b'[' => self.array(false).map(|_| Item::Other),
            b'{' => self.object().map(|()| Item::Other),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(|()| Item::Other),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<Item> {
        let rest = self.bytes.get(self.pos..self.pos + word.len())?;
        if rest != word {
            return None;
        }
        self.pos += word.len();
        Some(Item::Other)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < DEPTH_LIMIT).then_some(())
    }

    /// An array; its items are kept only when `keep`.
    fn array(&mut self, keep: bool) -> Option<Vec<Item>> {
        self.enter()?;
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Some(items);
        }
        loop {
            self.ws();
            let item = self.value()?;
            if keep {
                items.push(item);
            }
            self.ws();
            match self.next()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(items)
    }

    fn object(&mut self) -> Option<()> {
        self.enter()?;
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            self.ws();
            self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            self.value()?;
            self.ws();
            match self.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number, refused (as serde_json refuses it) when it is too large
    /// for an `f64`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let int_digits = &self.bytes[int_start..self.pos];
        let mut frac_digits: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let start = self.pos;
            if self.digits() == 0 {
                return None;
            }
            frac_digits = &self.bytes[start..self.pos];
        }
        let mut exponent: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let negative = match self.peek() {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            let start = self.pos;
            if self.digits() == 0 {
                return None;
            }
            for &d in &self.bytes[start..self.pos] {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(d - b'0'));
            }
            if negative {
                exponent = -exponent;
            }
        }
        (!too_large(int_digits, frac_digits, exponent)).then_some(())
    }

    /// A string, decoded.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // The text is a &str, so any run between ASCII bytes is UTF-8.
            out.push_str(std::str::from_utf8(&self.bytes[start..self.pos]).ok()?);
            match self.next()? {
                b'"' => return Some(out),
                b'\\' => out.push(self.escape()?),
                _ => return None,
            }
        }
    }

    fn escape(&mut self) -> Option<char> {
        Some(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        self.eat(b'\\')?;
                        self.eat(b'u')?;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return None;
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(first)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?).to_digit(16)?;
            code = code * 16 + digit;
        }
        Some(code)
    }
}

/// Whether the number `int.frac × 10^exponent` is beyond `f64::MAX`
/// (about 1.7976931348623157e308), which serde_json refuses.
fn too_large(int: &[u8], frac: &[u8], exponent: i64) -> bool {
    let all: Vec<u8> = int.iter().chain(frac).copied().collect();
    let Some(first) = all.iter().position(|&d| d != b'0') else {
        return false;
    };
    let significant = &all[first..];
    // The value is 0.significant × 10^magnitude.
    let magnitude = (int.len() as i64 - first as i64).saturating_add(exponent);
    match magnitude.cmp(&309) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => significant >= &b"17976931348623158"[..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_serde(text: &str) -> Option<Vec<Item>> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        serde_json::Value::String(s) => Item::Str(s),
                        _ => Item::Other,
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    fn string_by_serde(text: &str) -> Option<String> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn reads_cursors_as_serde_json_does() {
        for text in [
            r#"["a","b"]"#,
            r#" [ 1 , "x\u00e9\ud83d\ude00" , null , true , false , {"k": [1.5e3, -0]} ] "#,
            r#"[]"#,
            r#"[1,]"#,
            r#"[01]"#,
            r#"[1.]"#,
            r#"[1e]"#,
            r#"[-]"#,
            r#"["\ud800"]"#,
            r#"["\udc00"]"#,
            r#"["\ud800\u0041"]"#,
            "[\"tab\there\"]",
            r#"["\x"]"#,
            r#"[1e309]"#,
            r#"[1e308]"#,
            r#"[-1e400]"#,
            r#"[0e99999999999999999999]"#,
            r#"[1e-99999999999999999999]"#,
            r#"[123456789012345678901234567890]"#,
            r#"["a"] x"#,
            r#"{"a":1}"#,
            r#""just a string""#,
            r#"[{"a":1,}]"#,
            r#"[{"a" 1}]"#,
            r#"[nul]"#,
            r#"[truex]"#,
            "",
            "opaque-cursor",
        ] {
            assert_eq!(array_items(text), by_serde(text), "{text}");
        }
    }

    #[test]
    fn refuses_nesting_where_serde_json_does() {
        for depth in [126, 127, 128, 129] {
            let text = "[".repeat(depth) + &"]".repeat(depth);
            assert_eq!(array_items(&text), by_serde(&text), "depth {depth}");
        }
    }

    /// Texts built from JSON's tokens, mostly well formed, some not.
    fn json_ish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just(" ".to_owned()),
            Just("\"k\"".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("\"\\u00e9\\\"\"".to_owned()),
            Just("\"\\ud83d\\ude00\"".to_owned()),
            Just("\"\\ud83d\"".to_owned()),
            "-?[0-9]{1,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,3})?",
            "\"[a-z\\\\\"/]{0,4}\"",
        ];
        prop::collection::vec(token, 0..12).prop_map(|t| t.concat())
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            any::<i64>().prop_map(|i| serde_json::json!(i)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn token_soup_parses_as_serde_json_parses_it(inner in json_ish()) {
            let text = format!("[{inner}]");
            prop_assert_eq!(array_items(&text), by_serde(&text));
            prop_assert_eq!(array_items(&inner), by_serde(&inner));
            prop_assert_eq!(string(&inner), string_by_serde(&inner));
        }

        #[test]
        fn written_json_reads_back(items in prop::collection::vec(any_json(), 0..5)) {
            let text = serde_json::to_string(&items).unwrap();
            prop_assert_eq!(array_items(&text), by_serde(&text));
            for item in &items {
                let one = serde_json::to_string(item).unwrap();
                prop_assert_eq!(string(&one), string_by_serde(&one));
            }
        }

        #[test]
        fn any_text_parses_as_serde_json_parses_it(text in any::<String>()) {
            prop_assert_eq!(array_items(&text), by_serde(&text));
            prop_assert_eq!(string(&text), string_by_serde(&text));
        }
    }
}
