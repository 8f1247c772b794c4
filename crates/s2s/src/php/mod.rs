//! The PHP behaviour the Wildix reference client depends on, reproduced to the byte.
//!
//! The signature covers a canonical form built by PHP code: arrays with PHP's key rules
//! ([`Array`], [`Key`]), `parse_str` ([`parse_str`]), `json_decode` ([`json_decode`]),
//! `ksort` ([`ksort`]), string conversion of numbers ([`float_to_string`]) and
//! `http_build_query` ([`build_query`]). Everything here is pure and never panics, whatever
//! the input.
//!
//! ```
//! use tower_authn_s2s::php::{build_query, parse_str, ParseLimits};
//!
//! let params = parse_str(b"b=2&a%5B%5D=x+y", &ParseLimits::default()).unwrap();
//! assert_eq!(build_query(&params), "b=2&a%5B0%5D=x+y");
//! ```

mod array;
mod json;
mod number;
mod parse_str;
mod query;
mod sort;

pub use array::{AppendError, Array, Key, Value};
pub use json::{JsonError, MAX_DEPTH as JSON_MAX_DEPTH, json_decode, json_encode, json_encode_str};
pub use number::float_to_string;
pub use parse_str::{ParseError, ParseLimits, parse_str, url_decode};
pub use query::{build_query, url_encode};
pub use sort::{compare_keys, ksort};

pub(crate) use sort::zend_sort;
