//! PHP's conversions of numbers to strings, as `(string)$x` and `trim($x)` do them.

/// `(string)$float` with PHP's default `precision = 14`: at most 14 significant digits,
/// trailing zeros dropped, and `1.0E+25` style when the exponent is below -4 or above 14.
///
/// ```
/// use tower_authn_s2s::php::float_to_string;
///
/// assert_eq!(float_to_string(1.0), "1");
/// assert_eq!(float_to_string(1.5), "1.5");
/// assert_eq!(float_to_string(0.1 + 0.2), "0.3");
/// assert_eq!(float_to_string(1e15), "1.0E+15");
/// assert_eq!(float_to_string(0.00001), "1.0E-5");
/// assert_eq!(float_to_string(-0.0), "-0");
/// ```
pub fn float_to_string(x: f64) -> String {
    gcvt(x, Some(14), 'E')
}

/// `json_encode($float)` with PHP's default `serialize_precision = -1`: the shortest text that
/// reads back as the same float, `1.0e+25` style beyond 17 digits.
pub(crate) fn float_to_json(x: f64) -> String {
    gcvt(x, None, 'e')
}

/// PHP's `php_gcvt`: `precision` significant digits (`None`: the shortest round-trip digits,
/// as `zend_dtoa` mode 0), exponential form when the decimal exponent is below -4 or above
/// the precision (17 in mode 0).
fn gcvt(x: f64, precision: Option<usize>, exp_char: char) -> String {
    if x.is_nan() {
        return "NAN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "INF".to_owned()
        } else {
            "-INF".to_owned()
        };
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    let ndigit = i32::try_from(precision.unwrap_or(17)).unwrap_or(17);
    // Correctly rounded digits, as zend_dtoa gives them.
    let sci = match precision {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), x.abs()),
        None => format!("{:e}", x.abs()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits.is_empty() || digits == "0" {
        out.push('0');
        return out;
    }
    let decpt = exp + 1;
    if !(-3..=ndigit).contains(&decpt) {
        // Exponential format: d.ddd[E|e][+|-]x
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push(exp_char);
        let e = decpt - 1;
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.unsigned_abs().to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in decpt..0 {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let decpt = usize::try_from(decpt).unwrap_or(0);
        if digits.len() <= decpt {
            out.push_str(&digits);
            for _ in digits.len()..decpt {
                out.push('0');
            }
        } else {
            let (int, frac) = digits.split_at(decpt);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::float_to_string as s;

    #[test]
    fn matches_php_string_conversion() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1.0E-5"),
            (1.5e-7, "1.5E-7"),
            (1e14, "1.0E+14"),
            (1e13, "10000000000000"),
            (12345678901234.0, "12345678901234"),
            (123456789012345.0, "1.2345678901234E+14"),
            (1.0e25, "1.0E+25"),
            (9.223372036854776e18, "9.2233720368548E+18"),
            (7.125_000_000_1, "7.1250000001"),
            (123.456_789_012_345_6, "123.45678901235"),
            (1e100, "1.0E+100"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (f64::NAN, "NAN"),
        ];
        for (x, want) in cases {
            assert_eq!(s(*x), *want, "{x:?}");
        }
    }

    #[test]
    fn json_floats_are_shortest_round_trip() {
        use super::float_to_json as j;
        assert_eq!(j(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(j(1.0), "1");
        assert_eq!(j(1e25), "1.0e+25");
        assert_eq!(j(1e17), "1.0e+17");
        assert_eq!(j(1e16), "10000000000000000");
        assert_eq!(j(-2.5e-5), "-2.5e-5");
    }
}
