//! The path syntax of `redirects`, `rewrites` and `headers` sources: path-to-regexp 6, which
//! Next.js compiles them with (`:name`, `:name?`, `:name*`, `:name+`, `:name(regex)`, unnamed
//! `(regex)` groups, `{...}` groups, `\\` escapes), matched as Next.js does: the whole path,
//! case-insensitively, with a trailing slash mattering (`strict`).

use std::collections::BTreeMap;

/// What a source's parameters captured: one value, or a list for `*` and `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// `:name`, `:name?`, `:name(regex)`.
    One(String),
    /// `:name*`, `:name+`: the segments, split on the prefix.
    Many(Vec<String>),
}

impl Captured {
    /// The value as one string: segments joined with `/`.
    pub fn joined(&self) -> String {
        match self {
            Captured::One(value) => value.clone(),
            Captured::Many(values) => values.join("/"),
        }
    }
}

/// Parameters by name.
pub type Captures = BTreeMap<String, Captured>;

/// How often a parameter may occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// Exactly once.
    One,
    /// `?`: once or not at all.
    Optional,
    /// `*`: any number of times.
    Any,
    /// `+`: at least once.
    Some,
}

/// A parameter of a parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Its name; unnamed groups get `None`.
    pub name: Option<String>,
    /// The text before it that is part of it (`/` or `.`), dropped when it is absent.
    pub prefix: String,
    /// The text after it inside a `{...}` group.
    pub suffix: String,
    /// The regular expression one occurrence matches; empty for a group without parameter.
    pub pattern: String,
    /// How often it may occur.
    pub modifier: Modifier,
}

/// One piece of a parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Text matched as it is.
    Text(String),
    /// A parameter.
    Key(Key),
}

/// What one occurrence of a parameter matches unless it says otherwise: up to the next `/`.
const DEFAULT_PATTERN: &str = "[^\\/]+?";
/// The characters that make the `/` or `.` before a parameter part of it.
const PREFIXES: &str = "./";

#[derive(Debug, PartialEq)]
enum Lexed {
    Open,
    Close,
    Pattern(String),
    Name(String),
    Char(char),
    Escaped(char),
    Modifier(char),
    End,
}

impl Lexed {
    fn kind(&self) -> &'static str {
        match self {
            Lexed::Open => "OPEN",
            Lexed::Close => "CLOSE",
            Lexed::Pattern(_) => "PATTERN",
            Lexed::Name(_) => "NAME",
            Lexed::Char(_) => "CHAR",
            Lexed::Escaped(_) => "ESCAPED_CHAR",
            Lexed::Modifier(_) => "MODIFIER",
            Lexed::End => "END",
        }
    }
}

fn lex(path: &str) -> Result<Vec<(usize, Lexed)>, String> {
    let chars: Vec<char> = path.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' | '+' | '?' => {
                tokens.push((i, Lexed::Modifier(c)));
                i += 1;
            }
            '\\' => {
                let escaped = *chars
                    .get(i + 1)
                    .ok_or_else(|| format!("Unexpected end after \"\\\" at {i}"))?;
                tokens.push((i, Lexed::Escaped(escaped)));
                i += 2;
            }
            '{' => {
                tokens.push((i, Lexed::Open));
                i += 1;
            }
            '}' => {
                tokens.push((i, Lexed::Close));
                i += 1;
            }
            ':' => {
                let mut j = i + 1;
                let mut name = String::new();
                while let Some(&n) = chars.get(j) {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        j += 1;
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    return Err(format!("Missing parameter name at {i}"));
                }
                tokens.push((i, Lexed::Name(name)));
                i = j;
            }
            '(' => {
                let mut depth = 1;
                let mut pattern = String::new();
                let mut j = i + 1;
                if chars.get(j) == Some(&'?') {
                    return Err(format!("Pattern cannot start with \"?\" at {j}"));
                }
                while j < chars.len() {
                    if chars[j] == '\\' {
                        pattern.push(chars[j]);
                        if let Some(&next) = chars.get(j + 1) {
                            pattern.push(next);
                        }
                        j += 2;
                        continue;
                    }
                    if chars[j] == ')' {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    } else if chars[j] == '(' {
                        depth += 1;
                        if chars.get(j + 1) != Some(&'?') {
                            return Err(format!("Capturing groups are not allowed at {j}"));
                        }
                    }
                    pattern.push(chars[j]);
                    j += 1;
                }
                if depth > 0 {
                    return Err(format!("Unbalanced pattern at {i}"));
                }
                if pattern.is_empty() {
                    return Err(format!("Missing pattern at {i}"));
                }
                tokens.push((i, Lexed::Pattern(pattern)));
                i = j;
            }
            _ => {
                tokens.push((i, Lexed::Char(c)));
                i += 1;
            }
        }
    }
    tokens.push((chars.len(), Lexed::End));
    Ok(tokens)
}

struct Cursor {
    tokens: Vec<(usize, Lexed)>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> &Lexed {
        &self.tokens[self.at].1
    }

    /// Takes the next token when `pick` wants it.
    fn take<T>(&mut self, pick: impl Fn(&Lexed) -> Option<T>) -> Option<T> {
        let taken = pick(self.peek())?;
        self.at += 1;
        Some(taken)
    }

    fn name(&mut self) -> Option<String> {
        self.take(|t| match t {
            Lexed::Name(name) => Some(name.clone()),
            _ => None,
        })
    }

    fn pattern(&mut self) -> Option<String> {
        self.take(|t| match t {
            Lexed::Pattern(pattern) => Some(pattern.clone()),
            _ => None,
        })
    }

    fn char(&mut self) -> Option<char> {
        self.take(|t| match t {
            Lexed::Char(c) => Some(*c),
            _ => None,
        })
    }

    fn escaped(&mut self) -> Option<char> {
        self.take(|t| match t {
            Lexed::Escaped(c) => Some(*c),
            _ => None,
        })
    }

    fn modifier(&mut self) -> Modifier {
        self.take(|t| match t {
            Lexed::Modifier('?') => Some(Modifier::Optional),
            Lexed::Modifier('*') => Some(Modifier::Any),
            Lexed::Modifier('+') => Some(Modifier::Some),
            _ => None,
        })
        .unwrap_or(Modifier::One)
    }

    fn text(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.char().or_else(|| self.escaped()) {
            text.push(c);
        }
        text
    }

    fn expect(&mut self, expected: &Lexed) -> Result<(), String> {
        let (index, found) = &self.tokens[self.at];
        if std::mem::discriminant(found) == std::mem::discriminant(expected) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!(
                "Unexpected {} at {index}, expected {}",
                found.kind(),
                expected.kind()
            ))
        }
    }
}

/// Parses a path into text and parameters, with path-to-regexp's rules and messages.
pub fn parse(path: &str) -> Result<Vec<Token>, String> {
    let mut cursor = Cursor {
        tokens: lex(path)?,
        at: 0,
    };
    let mut result = Vec::new();
    let mut text = String::new();
    loop {
        let char = cursor.char();
        let name = cursor.name();
        let pattern = cursor.pattern();
        if name.is_some() || pattern.is_some() {
            let mut prefix = char.map(String::from).unwrap_or_default();
            if !prefix.is_empty() && !PREFIXES.contains(prefix.as_str()) {
                text.push_str(&prefix);
                prefix.clear();
            }
            if !text.is_empty() {
                result.push(Token::Text(std::mem::take(&mut text)));
            }
            result.push(Token::Key(Key {
                name,
                prefix,
                suffix: String::new(),
                pattern: pattern.unwrap_or_else(|| DEFAULT_PATTERN.to_owned()),
                modifier: cursor.modifier(),
            }));
            continue;
        }
        if let Some(c) = char.or_else(|| cursor.escaped()) {
            text.push(c);
            continue;
        }
        if !text.is_empty() {
            result.push(Token::Text(std::mem::take(&mut text)));
        }
        if *cursor.peek() == Lexed::Open {
            cursor.at += 1;
            let prefix = cursor.text();
            let name = cursor.name();
            let pattern = cursor.pattern();
            let suffix = cursor.text();
            cursor.expect(&Lexed::Close)?;
            let pattern = match (&name, pattern) {
                (_, Some(pattern)) => pattern,
                (Some(_), None) => DEFAULT_PATTERN.to_owned(),
                (None, None) => String::new(),
            };
            result.push(Token::Key(Key {
                name,
                prefix,
                suffix,
                pattern,
                modifier: cursor.modifier(),
            }));
            continue;
        }
        cursor.expect(&Lexed::End)?;
        return Ok(result);
    }
}

/// A compiled source: matches a request path and says what its parameters captured.
#[derive(Debug)]
pub struct Source {
    text: String,
    regex: fancy_regex::Regex,
    keys: Vec<Key>,
}

impl Source {
    /// Compiles `source`; the error is Next.js's for an invalid one.
    pub fn new(source: &str) -> Result<Self, String> {
        let invalid = |reason: String| {
            format!(
                "Error parsing `{source}` https://nextjs.org/docs/messages/invalid-route-source\n\
                 Reason: {reason}"
            )
        };
        let tokens = parse(source).map_err(invalid)?;
        let mut regex = String::from("(?i)^");
        let mut keys = Vec::new();
        for token in tokens {
            match token {
                Token::Text(text) => regex.push_str(&fancy_regex::escape(&text)),
                Token::Key(key) => {
                    let group = format!("__routelet{}", keys.len());
                    let prefix = fancy_regex::escape(&key.prefix);
                    let suffix = fancy_regex::escape(&key.suffix);
                    let pattern = &key.pattern;
                    let repeats = matches!(key.modifier, Modifier::Any | Modifier::Some);
                    let optional = match key.modifier {
                        Modifier::Optional | Modifier::Any => "?",
                        _ => "",
                    };
                    if pattern.is_empty() {
                        regex.push_str(&format!(
                            "(?:{prefix}{suffix}){}",
                            modifier_text(key.modifier)
                        ));
                        continue;
                    }
                    if prefix.is_empty() && suffix.is_empty() {
                        let inner = if repeats {
                            format!("(?:{pattern}){}", modifier_text(key.modifier))
                        } else {
                            pattern.clone()
                        };
                        let wrapped = if repeats {
                            format!("(?P<{group}>{inner})")
                        } else {
                            format!("(?P<{group}>{inner}){}", modifier_text(key.modifier))
                        };
                        regex.push_str(&wrapped);
                    } else if repeats {
                        regex.push_str(&format!(
                            "(?:{prefix}(?P<{group}>(?:{pattern})(?:{suffix}{prefix}(?:{pattern}))*){suffix}){optional}"
                        ));
                    } else {
                        regex.push_str(&format!(
                            "(?:{prefix}(?P<{group}>{pattern}){suffix}){}",
                            modifier_text(key.modifier)
                        ));
                    }
                    keys.push(key);
                }
            }
        }
        regex.push('$');
        let compiled = fancy_regex::Regex::new(&regex).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            text: source.to_owned(),
            regex: compiled,
            keys,
        })
    }

    /// The source as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The names of its parameters, for checking a destination.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.name.as_deref())
    }

    /// What the named parameters captured when `path` (still percent-encoded) matches.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let found = self.regex.captures(path).ok()??;
        let mut captures = Captures::new();
        for (index, key) in self.keys.iter().enumerate() {
            let Some(name) = &key.name else { continue };
            let Some(value) = found.name(&format!("__routelet{index}")) else {
                continue;
            };
            let value = value.as_str();
            let captured = match key.modifier {
                Modifier::Any | Modifier::Some => {
                    let separator = format!("{}{}", key.prefix, key.suffix);
                    Captured::Many(if separator.is_empty() {
                        vec![value.to_owned()]
                    } else {
                        value.split(separator.as_str()).map(str::to_owned).collect()
                    })
                }
                _ => Captured::One(value.to_owned()),
            };
            captures.insert(name.clone(), captured);
        }
        Some(captures)
    }
}

fn modifier_text(modifier: Modifier) -> &'static str {
    match modifier {
        Modifier::One => "",
        Modifier::Optional => "?",
        Modifier::Any => "*",
        Modifier::Some => "+",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Captured {
        Captured::One(value.into())
    }

    fn matched(source: &str, path: &str) -> Option<Vec<(String, Captured)>> {
        Source::new(source)
            .unwrap()
            .matches(path)
            .map(|c| c.into_iter().collect())
    }

    #[test]
    fn named_parameters_take_one_segment() {
        assert_eq!(
            matched("/blog/:slug", "/blog/hello"),
            Some(vec![("slug".into(), one("hello"))])
        );
        assert_eq!(matched("/blog/:slug", "/blog/a/b"), None);
        assert_eq!(matched("/blog/:slug", "/blog"), None);
        // `strict`: a trailing slash is not the same path.
        assert_eq!(matched("/blog/:slug", "/blog/hello/"), None);
        // Case-insensitive, as Next.js compiles them.
        assert!(matched("/Blog/:slug", "/blog/x").is_some());
    }

    #[test]
    fn modifiers_follow_path_to_regexp() {
        assert_eq!(matched("/docs/:path*", "/docs"), Some(vec![]));
        assert_eq!(
            matched("/docs/:path*", "/docs/a/b"),
            Some(vec![(
                "path".into(),
                Captured::Many(vec!["a".into(), "b".into()])
            )])
        );
        assert_eq!(matched("/docs/:path+", "/docs"), None);
        assert_eq!(
            matched("/docs/:path+", "/docs/a"),
            Some(vec![("path".into(), Captured::Many(vec!["a".into()]))])
        );
        assert_eq!(matched("/a/:b?", "/a"), Some(vec![]));
        assert_eq!(
            matched("/a/:b?", "/a/x"),
            Some(vec![("b".into(), one("x"))])
        );
    }

    #[test]
    fn regex_groups_and_lookahead() {
        assert_eq!(
            matched("/post/:id(\\d{1,})", "/post/42"),
            Some(vec![("id".into(), one("42"))])
        );
        assert_eq!(matched("/post/:id(\\d{1,})", "/post/abc"), None);
        // Unnamed groups match but are not parameters.
        assert_eq!(matched("/old/(.*)", "/old/a/b"), Some(vec![]));
        // The negative lookahead middleware matchers and rewrites commonly use.
        let skip = "/:path((?!api|_routelet).*)";
        assert!(matched(skip, "/about").is_some());
        assert_eq!(matched(skip, "/api/x"), None);
        assert_eq!(matched(skip, "/_routelet/data/x"), None);
    }

    #[test]
    fn groups_prefixes_and_escapes() {
        assert_eq!(
            matched("/file{-:v}?.txt", "/file-2.txt"),
            Some(vec![("v".into(), one("2"))])
        );
        assert_eq!(matched("/file{-:v}?.txt", "/file.txt"), Some(vec![]));
        assert_eq!(
            matched("/img/:name.:ext", "/img/cat.png"),
            Some(vec![
                ("ext".into(), one("png")),
                ("name".into(), one("cat"))
            ])
        );
        assert!(matched("/a\\:b", "/a:b").is_some());
    }

    #[test]
    fn invalid_sources_use_path_to_regexp_wording() {
        let error = |source: &str| Source::new(source).unwrap_err();
        assert!(
            error("/a/:").contains("Reason: Missing parameter name at 3"),
            "{}",
            error("/a/:")
        );
        assert!(error("/a/:id((b))").contains("Capturing groups are not allowed at"));
        assert!(error("/a/:id(b").contains("Unbalanced pattern at"));
        assert!(error("/a/:id(?b)").contains("Pattern cannot start with \"?\""));
        assert!(error("/a/{b").contains("Unexpected END at 5, expected CLOSE"));
        assert!(error("/a/:x(").starts_with(
            "Error parsing `/a/:x(` https://nextjs.org/docs/messages/invalid-route-source"
        ));
    }
}
