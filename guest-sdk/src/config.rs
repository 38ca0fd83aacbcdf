//! Per-route settings: Next.js's `export const config = { api: { bodyParser } }`.

/// Per-route settings, the Rust form of Next.js's `export const config = { api: { bodyParser } }`.
///
/// A route file opts in by declaring a `pub const CONFIG` (or `pub static CONFIG`);
/// `routelet build` then passes it to [`export_route!`](crate::export_route). Every method is a
/// `const fn`, so a bad size such as `"4mbb"` fails the build instead of a request.
///
/// # Example
///
/// ```
/// use routelet_sdk::Config;
///
/// // Accept uploads up to 4 MiB; a larger body is refused with `413 Body exceeded 4mb limit`.
/// pub const CONFIG: Config = Config::new().body_limit("4mb");
/// assert_eq!(CONFIG.limit_bytes(), 4 * 1024 * 1024);
///
/// // Leave the body unread so the handler can stream it with `Request::into_body_reader`.
/// pub const STREAMING: Config = Config::new().body_parser(false);
/// assert!(!STREAMING.parses_body());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    body_parser: bool,
    limit_text: &'static str,
    limit_bytes: u64,
}

impl Config {
    /// The settings a route gets when it declares no `CONFIG`: body parsing on, a `1mb` limit.
    pub const DEFAULT: Config = Config::new();

    /// Next.js's defaults: the body is read and parsed, up to `1mb` (1,048,576 bytes).
    pub const fn new() -> Self {
        Config {
            body_parser: true,
            limit_text: "1mb",
            limit_bytes: 1024 * 1024,
        }
    }

    /// Sets the largest body the route accepts, written like Next.js's `sizeLimit`.
    ///
    /// The text is parsed like the `bytes` npm package that Next.js uses: a number, optionally
    /// with decimals, optionally followed by `b`, `kb`, `mb`, `gb`, `tb` or `pb` (any case, 1024
    /// based, rounded down). A bare number counts bytes. The text is kept as written for the
    /// `413 Body exceeded <limit> limit` message, as Next.js does. Unlike the `bytes` package,
    /// text that is not a size (`"4 megs"`) is refused instead of silently read as `4` bytes.
    ///
    /// # Panics
    ///
    /// If `limit` is not a size. In a `const CONFIG` that is a compile error.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Config;
    /// assert_eq!(Config::new().body_limit("500kb").limit_bytes(), 512_000);
    /// assert_eq!(Config::new().body_limit("1.5mb").limit_bytes(), 1_572_864);
    /// assert_eq!(Config::new().body_limit("4096").limit_bytes(), 4096);
    /// ```
    pub const fn body_limit(self, limit: &'static str) -> Self {
        match parse_size(limit) {
            Some(bytes) => Config {
                limit_text: limit,
                limit_bytes: bytes,
                ..self
            },
            None => panic!(
                "invalid body_limit: expected a size such as \"500kb\", \"1mb\", \"4.5mb\" or \"4096\" (units: b, kb, mb, gb, tb, pb)"
            ),
        }
    }

    /// Turns body parsing on (the default) or off.
    ///
    /// Off is Next.js's `bodyParser: false`: the body is left unread, no size limit applies, and
    /// the handler reads it as a stream with
    /// [`Request::into_body_reader`](crate::Request::into_body_reader), which suits large uploads
    /// and webhooks that need the raw bytes.
    pub const fn body_parser(self, enabled: bool) -> Self {
        Config {
            body_parser: enabled,
            ..self
        }
    }

    /// Whether the body is read and parsed before the handler runs.
    pub const fn parses_body(&self) -> bool {
        self.body_parser
    }

    /// The largest accepted body, in bytes.
    pub const fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// The limit as written (`"1mb"`), used in the 413 message.
    pub const fn limit_text(&self) -> &'static str {
        self.limit_text
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// Parses a size like the `bytes` npm package (`"1mb"`, `"1.5 KB"`, `"100"`), strictly.
pub(crate) const fn parse_size(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut i = 0;

    // Whole part.
    let mut whole: u128 = 0;
    let start = i;
    while i < len && bytes[i].is_ascii_digit() {
        whole = whole * 10 + (bytes[i] - b'0') as u128;
        if whole > u64::MAX as u128 {
            return None;
        }
        i += 1;
    }
    if i == start {
        return None;
    }

    // Fraction: keep at most 18 digits; later ones cannot change a whole byte count we keep.
    let mut frac: u128 = 0;
    let mut denom: u128 = 1;
    if i < len && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < len && bytes[i].is_ascii_digit() {
            if denom < 1_000_000_000_000_000_000 {
                frac = frac * 10 + (bytes[i] - b'0') as u128;
                denom *= 10;
            }
            i += 1;
        }
        if i == frac_start {
            return None;
        }
    }

    while i < len && bytes[i] == b' ' {
        i += 1;
    }

    // Unit.
    let rest = len - i;
    let unit: u128 = if rest == 0 || (rest == 1 && (bytes[i] | 0x20) == b'b') {
        1
    } else if rest == 2 && (bytes[i + 1] | 0x20) == b'b' {
        match bytes[i] | 0x20 {
            b'k' => 1 << 10,
            b'm' => 1 << 20,
            b'g' => 1 << 30,
            b't' => 1 << 40,
            b'p' => 1 << 50,
            _ => return None,
        }
    } else {
        return None;
    };

    let total = whole * unit + frac * unit / denom;
    if total > u64::MAX as u128 {
        None
    } else {
        Some(total as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_the_bytes_package() {
        assert_eq!(parse_size("1mb"), Some(1_048_576));
        assert_eq!(parse_size("1MB"), Some(1_048_576));
        assert_eq!(parse_size("1 mb"), Some(1_048_576));
        assert_eq!(parse_size("4mb"), Some(4_194_304));
        assert_eq!(parse_size("500kb"), Some(512_000));
        assert_eq!(parse_size("1gb"), Some(1 << 30));
        assert_eq!(parse_size("2tb"), Some(2 << 40));
        assert_eq!(parse_size("1pb"), Some(1 << 50));
        assert_eq!(parse_size("1.5mb"), Some(1_572_864));
        assert_eq!(parse_size("1.1mb"), Some(1_153_433));
        assert_eq!(parse_size("0.5kb"), Some(512));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("100b"), Some(100));
        assert_eq!(parse_size("1.5b"), Some(1));
        assert_eq!(parse_size("0"), Some(0));
    }

    #[test]
    fn non_sizes_are_refused() {
        for bad in [
            "",
            "mb",
            "-1mb",
            "+1mb",
            "1.mb",
            ".5mb",
            "1mbb",
            "1 megs",
            "1kib",
            "1mb ",
            " 1mb",
            "1e3",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn config_keeps_the_text_for_the_message() {
        const C: Config = Config::new().body_limit("4mb").body_parser(true);
        assert_eq!(C.limit_text(), "4mb");
        assert_eq!(C.limit_bytes(), 4 << 20);
        assert!(C.parses_body());
        assert_eq!(Config::default(), Config::DEFAULT);
        assert_eq!(Config::DEFAULT.limit_bytes(), 1_048_576);
        assert_eq!(Config::DEFAULT.limit_text(), "1mb");
    }

    #[test]
    #[should_panic(expected = "invalid body_limit")]
    fn a_bad_limit_panics() {
        let _ = Config::new().body_limit("lots");
    }
}
