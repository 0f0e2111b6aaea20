//! Percent-encoding for URL queries and `application/x-www-form-urlencoded` bodies, and the
//! decoding of a query string such as the loopback redirect's.
//!
//! Small enough to keep here rather than pull in a crate: the encoder leaves only RFC 3986's
//! unreserved characters as they are, which is valid in both a query and a form body.

/// Appends `value` percent-encoded: every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX`.
pub(crate) fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// `key=value&key=value`, each part percent-encoded.
pub(crate) fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// Decodes one query component: `+` is a space and `%XX` a byte; the result must be UTF-8.
///
/// Returns `None` for a stray `%`, a bad hex digit or bytes that are not UTF-8.
pub(crate) fn decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Splits a query string into decoded `(key, value)` pairs; a pair without `=` has an empty value
/// and empty pairs (`a=1&&b=2`) are skipped.
///
/// Returns `None` when any component does not decode.
pub(crate) fn decode_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Base64url without padding (RFC 4648 section 5), as PKCE and our `state` use it.
pub(crate) fn base64url_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = chunk.get(1).copied().map_or(0, u32::from);
        let b2 = chunk.get(2).copied().map_or(0, u32::from);
        let n = b0 << 16 | b1 << 8 | b2;
        let sextets = [n >> 18, n >> 12, n >> 6, n];
        for sextet in &sextets[..=chunk.len()] {
            out.push(char::from(ALPHABET[(sextet & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(
            encode_pairs(&[("scope", "a b/c"), ("x", "é&=+")]),
            "scope=a%20b%2Fc&x=%C3%A9%26%3D%2B"
        );
        assert_eq!(encode_pairs(&[("k", "AZaz09-._~")]), "k=AZaz09-._~");
    }

    #[test]
    fn decodes_what_it_encodes() {
        let mut text = String::new();
        encode_into(&mut text, "4/0Ab+c d%é");
        assert_eq!(decode(&text).as_deref(), Some("4/0Ab+c d%é"));
        assert_eq!(decode("a+b").as_deref(), Some("a b"));
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%FF"), None);
    }

    #[test]
    fn splits_queries() {
        assert_eq!(
            decode_query("a=1&&b&c=x%20y").unwrap(),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "x y".to_owned()),
            ]
        );
        assert!(decode_query("a=%").is_none());
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"\xfb\xff\xfe", "-__-"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64url_nopad(input), expected);
        }
    }
}
