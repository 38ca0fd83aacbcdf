//! What a client reads when its body or query has the wrong shape: serde's explanation, with
//! quoted input cut to a short excerpt and the handler's Rust type names left out, since the
//! client should not get its own megabyte back, nor learn the route's internals.

use std::fmt::Display;

/// Quoted input longer than this many characters is cut, with `…` after it.
const EXCERPT_CHARS: usize = 32;

/// The whole explanation is at most this many characters.
const MAX_CHARS: usize = 200;

/// `Invalid body: invalid type: string "aaaa…", expected an object` from serde's error.
pub(crate) fn explain(prefix: &str, error: impl Display) -> String {
    let text = without_type_names(&excerpts(&error.to_string()));
    let mut message = format!("{prefix}: {text}");
    if message.chars().count() > MAX_CHARS {
        message = message.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    message
}

/// Cuts every `"..."` in serde's message (it quotes input with Rust's escapes) to an excerpt.
fn excerpts(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(512));
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let (mut kept, mut escaped) = (0, false);
        for c in chars.by_ref() {
            if !escaped && c == '"' {
                if kept > EXCERPT_CHARS {
                    out.push('…');
                }
                out.push('"');
                break;
            }
            escaped = !escaped && c == '\\';
            kept += 1;
            if kept <= EXCERPT_CHARS {
                out.push(c);
            }
        }
    }
    out
}

/// `expected struct Subscription` → `expected an object`, and the like for enums and tuples.
fn without_type_names(text: &str) -> String {
    const KINDS: [(&str, &str); 4] = [
        ("tuple struct ", "an array"),
        ("unit struct ", "null"),
        ("struct ", "an object"),
        ("enum ", "one of the allowed values"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(at) = rest.find("expected ") {
        let (before, after) = rest.split_at(at + "expected ".len());
        out.push_str(before);
        for (kind, plain) in KINDS {
            if let Some(named) = after.strip_prefix(kind) {
                let name_end = named
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(named.len());
                out.push_str(plain);
                rest = &named[name_end..];
                continue 'scan;
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_and_type_names_are_left_out() {
        let long = "x".repeat(1 << 20);
        let message = explain(
            "Invalid body",
            format!("invalid type: string {long:?}, expected struct Subscription"),
        );
        assert_eq!(
            message,
            format!(
                "Invalid body: invalid type: string \"{}…\", expected an object",
                "x".repeat(EXCERPT_CHARS)
            )
        );
        assert_eq!(
            explain(
                "Invalid body",
                "invalid value: string \"a\\\"b\", expected enum Kind"
            ),
            "Invalid body: invalid value: string \"a\\\"b\", expected one of the allowed values"
        );
        // What serde says about fields stays: the client needs it and it names no type.
        assert_eq!(
            explain("Invalid body", "missing field `email`"),
            "Invalid body: missing field `email`"
        );
        assert!(explain("Invalid query", "y".repeat(1000)).chars().count() <= MAX_CHARS + 1);
    }
}
