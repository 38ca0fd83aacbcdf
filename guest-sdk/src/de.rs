//! A serde `Deserializer` over a [`Query`], so query strings and form bodies fill typed structs.
//!
//! Every value in a query is text, so this parses numbers and booleans out of strings where the
//! target type asks for them (what `serde_json::Value` cannot do for us).

use serde::de::value::{BorrowedStrDeserializer, Error};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

use crate::query::{Query, QueryValue};

/// Deserializes a whole query as a map.
pub(crate) struct QueryDeserializer<'de> {
    query: &'de Query,
}

impl<'de> QueryDeserializer<'de> {
    pub(crate) fn new(query: &'de Query) -> Self {
        QueryDeserializer { query }
    }
}

impl<'de> Deserializer<'de> for QueryDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Entries {
            iter: self.query.entries().iter(),
            value: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries<'de> {
    iter: std::slice::Iter<'de, (String, QueryValue)>,
    value: Option<&'de QueryValue>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value requested before key"))?;
        seed.deserialize(ValueDeserializer::from(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// One value: a string, or a list of strings.
#[derive(Clone, Copy)]
enum ValueDeserializer<'de> {
    One(&'de str),
    Many(&'de [String]),
}

impl<'de> From<&'de QueryValue> for ValueDeserializer<'de> {
    fn from(value: &'de QueryValue) -> Self {
        match value {
            QueryValue::Single(s) => ValueDeserializer::One(s),
            QueryValue::Multiple(list) => ValueDeserializer::Many(list),
        }
    }
}

impl<'de> ValueDeserializer<'de> {
    fn single(self) -> Result<&'de str, Error> {
        match self {
            ValueDeserializer::One(s) => Ok(s),
            ValueDeserializer::Many(list) => Err(de::Error::invalid_length(
                list.len(),
                &"a single value, not a repeated key",
            )),
        }
    }

    fn items(self) -> Items<'de> {
        match self {
            ValueDeserializer::One(s) => Items {
                one: Some(s),
                rest: [].iter(),
            },
            ValueDeserializer::Many(list) => Items {
                one: None,
                rest: list.iter(),
            },
        }
    }
}

macro_rules! parse_from_text {
    ($($method:ident => $visit:ident : $ty:ty, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let text = self.single()?;
                match text.parse::<$ty>() {
                    Ok(value) => visitor.$visit(value),
                    Err(_) => Err(de::Error::invalid_value(Unexpected::Str(text), &$what)),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            ValueDeserializer::One(s) => visitor.visit_borrowed_str(s),
            ValueDeserializer::Many(_) => visitor.visit_seq(self.items()),
        }
    }

    parse_from_text! {
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_i128 => visit_i128: i128, "an integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer";
        deserialize_u16 => visit_u16: u16, "a non-negative integer";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_u128 => visit_u128: u128, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
        deserialize_char => visit_char: char, "a single character";
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.single()?;
        match text {
            "true" | "on" | "1" => visitor.visit_bool(true),
            "false" | "off" | "0" => visitor.visit_bool(false),
            _ => Err(de::Error::invalid_value(
                Unexpected::Str(text),
                &"true, false, on, off, 1 or 0",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(self.items())
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_seq(self.items())
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(BorrowedStrDeserializer::new(self.single()?))
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit_struct tuple_struct map struct identifier ignored_any
    }
}

struct Items<'de> {
    one: Option<&'de str>,
    rest: std::slice::Iter<'de, String>,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let next = self
            .one
            .take()
            .or_else(|| self.rest.next().map(String::as_str));
        match next {
            Some(text) => seed.deserialize(ValueDeserializer::One(text)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.one.is_some()) + self.rest.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use crate::Query;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Order {
        Asc,
        Desc,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Search<'a> {
        q: &'a str,
        page: u32,
        offset: Option<i64>,
        ratio: Option<f64>,
        draft: bool,
        tag: Vec<String>,
        ids: Vec<u16>,
        order: Order,
        #[serde(default)]
        missing: Vec<String>,
    }

    #[test]
    fn fills_typed_fields_from_text() {
        let q = Query::parse("q=rust+wasm&page=2&ratio=0.5&draft=on&tag=a&tag=b&ids=7&order=desc");
        let s: Search = q.deserialize().unwrap();
        assert_eq!(
            s,
            Search {
                q: "rust wasm",
                page: 2,
                offset: None,
                ratio: Some(0.5),
                draft: true,
                tag: vec!["a".into(), "b".into()],
                ids: vec![7],
                order: Order::Desc,
                missing: vec![],
            }
        );
    }

    #[test]
    fn explains_mismatches() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct P {
            page: u32,
        }
        let err = Query::parse("page=x").deserialize::<P>().unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.message()
                .starts_with("Invalid query: invalid value: string \"x\""),
            "{}",
            err.message()
        );

        let err = Query::parse("page=1&page=2")
            .deserialize::<P>()
            .unwrap_err();
        assert!(err.message().contains("single value"), "{}", err.message());

        let err = Query::parse("other=1").deserialize::<P>().unwrap_err();
        assert!(
            err.message().contains("missing field `page`"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn fills_maps_and_json_values() {
        let q = Query::parse("a=1&b=2&b=3");
        let map: HashMap<String, serde_json::Value> = q.deserialize().unwrap();
        assert_eq!(map["a"], serde_json::json!("1"));
        assert_eq!(map["b"], serde_json::json!(["2", "3"]));
    }
}
