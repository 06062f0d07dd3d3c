//! Lenient readers of the wire shape: a field that is not what the exporter reads (another
//! type, PHP's `[]` for an empty map, a huge array) is taken as absent or skipped without being
//! built, never a refused delivery. The mapping in `wire.rs` reads through them.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The arms of a lenient visitor for the JSON values it does not read, each giving `$absent`:
/// maps and arrays are skipped element by element, never built. Stamped into each visitor with
/// the kinds it reads left out. Assumes the visitor's lifetime is called `'de`, as serde's own
/// `forward_to_deserialize_any!` does.
macro_rules! absent_for {
    ($value:ty = $absent:expr; $($kind:ident)*) => {
        $( absent_for!(@$kind $value = $absent); )*
    };
    (@map $value:ty = $absent:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
    (@seq $value:ty = $absent:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
    (@unit $value:ty = $absent:expr) => {
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($absent)
        }
    };
    (@bool $value:ty = $absent:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($absent)
        }
    };
    (@i64 $value:ty = $absent:expr) => {
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($absent)
        }
    };
    (@u64 $value:ty = $absent:expr) => {
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($absent)
        }
    };
    (@f64 $value:ty = $absent:expr) => {
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($absent)
        }
    };
    (@str $value:ty = $absent:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok($absent)
        }
    };
}
pub(super) use absent_for;

/// A string, or absent when the value is anything else: fields that are strings in the merge
/// activities may be other things in activity types never seen, and must not cost a delivery.
#[derive(Default)]
pub(super) struct TextOr<'a>(pub(super) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for TextOr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Text<'a> {
            type Value = TextOr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<TextOr<'a>, E> {
                Ok(TextOr(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<TextOr<'a>, E> {
                Ok(TextOr(Some(Cow::Owned(s.to_owned()))))
            }
            absent_for!(TextOr<'a> = TextOr(None); map seq unit bool i64 u64 f64);
        }
        deserializer.deserialize_any(Text(std::marker::PhantomData))
    }
}

/// How many elements of `commands` (`{app, type, exit_code}`) exited non-zero, counted without
/// keeping them. An element that is not an object, or whose `exit_code` is not a number (null
/// while it runs), counts as no failure; `commands` that is not an array as none at all.
#[derive(Default)]
pub(super) struct FailedCommands(pub(super) u32);

#[derive(Deserialize)]
pub(super) struct WireCommand {
    #[serde(default)]
    exit_code: ExitCode,
}

/// Whether an `exit_code` says the command failed: a number other than 0.
#[derive(Default)]
pub(super) struct ExitCode(bool);

impl<'de> Deserialize<'de> for ExitCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Code;
        impl<'de> Visitor<'de> for Code {
            type Value = ExitCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an exit code")
            }
            fn visit_i64<E>(self, v: i64) -> Result<ExitCode, E> {
                Ok(ExitCode(v != 0))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ExitCode, E> {
                Ok(ExitCode(v != 0))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ExitCode, E> {
                Ok(ExitCode(v != 0.0))
            }
            absent_for!(ExitCode = ExitCode(false); str bool unit map seq);
        }
        deserializer.deserialize_any(Code)
    }
}

impl<'de> Deserialize<'de> for FailedCommands {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = FailedCommands;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of commands")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FailedCommands, A::Error> {
                let mut failed = 0u32;
                while let Some(command) = seq.next_element::<ObjectOr<WireCommand>>()? {
                    if command.0.is_some_and(|c| c.exit_code.0) {
                        failed = failed.saturating_add(1);
                    }
                }
                Ok(FailedCommands(failed))
            }
            absent_for!(FailedCommands = FailedCommands(0); map unit bool i64 u64 f64 str);
        }
        deserializer.deserialize_any(Count)
    }
}

/// An object, or absent when the value is anything else: PHP writes an empty map as `[]`, and
/// a derived struct would read an array by position. Whatever is not an object is skipped.
pub(super) struct ObjectOr<T>(pub(super) Option<T>);

impl<T> Default for ObjectOr<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = ObjectOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ObjectOr<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| ObjectOr(Some(t)))
            }
            absent_for!(ObjectOr<T> = ObjectOr(None); seq unit bool i64 u64 f64 str);
        }
        deserializer.deserialize_any(Object(std::marker::PhantomData))
    }
}

/// The first string of a JSON array; the rest is skipped without being built, so a body of
/// millions of elements costs no more memory than one.
pub(super) struct FirstOf<'a>(pub(super) Option<Cow<'a, str>>);

/// A string borrowed from the body where it has no escapes (serde borrows only in derives).
#[derive(Deserialize)]
pub(super) struct Text<'a>(#[serde(borrow)] pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstOf<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct First<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for First<'a> {
            type Value = FirstOf<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstOf<'a>, A::Error> {
                let first = seq.next_element::<Text<'a>>()?.map(|t| t.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstOf(first))
            }
        }
        deserializer.deserialize_seq(First(std::marker::PhantomData))
    }
}
