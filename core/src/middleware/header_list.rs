//! werkzeug's `parse_list_header`, exactly as ProxyFix uses it.

/// Splits an RFC 9110 list header the way werkzeug ≥ 3.1 does: commas
/// outside quoted-strings separate items; items are stripped (Python's
/// `str.strip`) and empty ones dropped; an item quoted at both ends loses
/// its quotes and backslash escapes; an unclosed quote empties the list.
pub(crate) fn parse_list_header(value: &str) -> Vec<String> {
    let mut raw_items = Vec::new();
    let mut item = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        if escaped {
            item.push(c);
            escaped = false;
        } else if quoted {
            match c {
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            item.push(c);
        } else if c == ',' {
            raw_items.push(std::mem::take(&mut item));
        } else {
            if c == '"' {
                quoted = true;
            }
            item.push(c);
        }
    }
    if quoted || escaped {
        return Vec::new();
    }
    raw_items.push(item);
    raw_items
        .iter()
        .map(|item| python_strip(item))
        .filter(|item| !item.is_empty())
        .map(unquote)
        .collect()
}

/// Python's `str.strip()`: Unicode whitespace plus the ASCII separators
/// U+001C..U+001F that Python counts as space and Rust does not.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

fn unquote(item: &str) -> String {
    let quoted = item.len() >= 2 && item.starts_with('"') && item.ends_with('"');
    if !quoted {
        return item.to_owned();
    }
    let mut out = String::with_capacity(item.len() - 2);
    let mut chars = item[1..item.len() - 1].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_list_header as p;

    #[test]
    fn werkzeug_list_semantics() {
        assert_eq!(p("a, b,c"), ["a", "b", "c"]);
        assert_eq!(p("a, , b"), ["a", "b"]);
        assert_eq!(p(", 192.168.0.3"), ["192.168.0.3"]);
        assert_eq!(p("\"a,b\", c"), ["a,b", "c"]);
        assert_eq!(p("a\"b,c\", d"), ["a\"b,c\"", "d"]);
        assert_eq!(p("\"unclosed, x"), Vec::<String>::new());
        assert_eq!(p("\"\""), [""]);
        assert_eq!(p("\"a\\\"b\""), ["a\"b"]);
        assert_eq!(p("\t x \u{1c}"), ["x"]);
    }
}
