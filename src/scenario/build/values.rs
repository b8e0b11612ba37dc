//! Values as written in a scenario: durations, numbers within a range, whole numbers, and the
//! tables of content-dependent values (distributions, arrivals). Every check names the key, and
//! [`Ctx::err`] redirects it to the `[sweep]` entry when a sweep set the value.
//!
//! Fixed-shape tables are serde structs (types checked by serde, with the file's line and
//! column); what serde cannot say (ranges, units, whole numbers) is checked here.

use super::Ctx;
use crate::engine::SimDuration;
use crate::scenario::error::{KeyPath, ScenarioError};
use crate::scenario::units::parse_duration;
use serde::Deserialize;
use std::fmt;
use toml::Value;

/// A duration as written in a table: a string with a unit, or the integer `0`.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationText {
    Text(String),
    Int(i64),
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"20ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DurationText, E> {
                Ok(DurationText::Text(s.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<DurationText, E> {
                Ok(DurationText::Int(i))
            }
            fn visit_u64<E: serde::de::Error>(self, i: u64) -> Result<DurationText, E> {
                Ok(DurationText::Int(i64::try_from(i).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A keyword chosen from a fixed list (`policy = "binpack"`), deserialized as [`Choice`].
pub trait Named: Sized + Copy + 'static {
    /// The keywords, in the order of [`Named::ALL`].
    const KEYS: &'static [&'static str];
    const ALL: &'static [Self];
}

/// A [`Named`] value: a non-string is "invalid type: ..., expected one of ..." and an unknown
/// keyword serde's "unknown variant `x`, expected one of ..." (which gets a did-you-mean hint).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice<T>(pub T);

impl<'de, T: Named> Deserialize<'de> for Choice<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: Named> serde::de::Visitor<'_> for V<T> {
            type Value = Choice<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let keys: Vec<String> = T::KEYS.iter().map(|k| format!("\"{k}\"")).collect();
                write!(f, "one of {}", keys.join(", "))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Choice<T>, E> {
                match T::KEYS.iter().position(|k| *k == s) {
                    Some(i) => Ok(Choice(T::ALL[i])),
                    None => Err(E::unknown_variant(s, T::KEYS)),
                }
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl Ctx<'_> {
    pub(super) fn duration(
        &self,
        path: &KeyPath,
        text: &str,
    ) -> Result<SimDuration, ScenarioError> {
        parse_duration(text).map_err(|m| self.err(path, m))
    }

    /// A duration inside a distribution or arrivals table (a `toml::Value`).
    pub(super) fn duration_value(
        &self,
        path: &KeyPath,
        v: &Value,
    ) -> Result<SimDuration, ScenarioError> {
        match v {
            Value::String(s) => self.duration(path, s),
            Value::Integer(0) => Ok(SimDuration::ZERO),
            other => Err(self.err(
                path,
                format!(
                    "expected a duration string such as \"20ms\", found {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    }

    /// A duration of a fixed-shape table.
    pub(super) fn duration_text(
        &self,
        path: &KeyPath,
        d: &DurationText,
    ) -> Result<SimDuration, ScenarioError> {
        match d {
            DurationText::Text(s) => self.duration(path, s),
            DurationText::Int(0) => Ok(SimDuration::ZERO),
            DurationText::Int(i) => Err(self.err(
                path,
                format!("expected a duration string such as \"20ms\", found integer `{i}`"),
            )),
        }
    }

    /// An optional duration `key` of the table at `table`, longer than zero.
    pub(super) fn positive_duration(
        &self,
        table: &KeyPath,
        key: &str,
        d: Option<&DurationText>,
    ) -> Result<Option<SimDuration>, ScenarioError> {
        let Some(d) = d else { return Ok(None) };
        let p = table.key(key);
        let d = self.duration_text(&p, d)?;
        if d == SimDuration::ZERO {
            return Err(self.err(&p, "must be longer than zero"));
        }
        Ok(Some(d))
    }

    /// A number inside a distribution or arrivals table: finite, not NaN.
    pub(super) fn number(&self, path: &KeyPath, v: &Value) -> Result<f64, ScenarioError> {
        let x = match v {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            other => {
                return Err(self.err(
                    path,
                    format!("expected a number, found {} `{other}`", other.type_str()),
                ));
            }
        };
        self.finite(path, x)
    }

    /// `x` unless it is NaN or infinite.
    pub(super) fn finite(&self, path: &KeyPath, x: f64) -> Result<f64, ScenarioError> {
        if x.is_nan() {
            return Err(self.err(path, "must be a number, not NaN"));
        }
        if x.is_infinite() {
            return Err(self.err(path, "must be finite"));
        }
        Ok(x)
    }

    /// An optional number `key` of the table at `table`, within `[lo, hi]`.
    pub(super) fn num_in(
        &self,
        table: &KeyPath,
        key: &str,
        x: Option<f64>,
        lo: f64,
        hi: f64,
    ) -> Result<Option<f64>, ScenarioError> {
        let Some(x) = x else { return Ok(None) };
        let p = table.key(key);
        let x = self.finite(&p, x)?;
        if x < lo || x > hi {
            return Err(self.err(&p, format!("must be between {lo} and {hi}, found {x}")));
        }
        Ok(Some(x))
    }

    /// An optional whole number `key` of the table at `table`, within `[lo, hi]`.
    pub(super) fn whole_in(
        &self,
        table: &KeyPath,
        key: &str,
        x: Option<f64>,
        lo: f64,
        hi: f64,
    ) -> Result<Option<f64>, ScenarioError> {
        let x = self.num_in(table, key, x, lo, hi)?;
        if x.is_some_and(|x| x.fract() != 0.0) {
            return Err(self.err(&table.key(key), "must be a whole number"));
        }
        Ok(x)
    }

    /// `v` as a table, or an error saying what was expected.
    pub(super) fn table<'v>(
        &self,
        path: &KeyPath,
        v: &'v Value,
        what: &str,
    ) -> Result<&'v toml::Table, ScenarioError> {
        v.as_table().ok_or_else(|| {
            self.err(
                path,
                format!("expected {what}, found {} `{v}`", v.type_str()),
            )
        })
    }

    /// Refuse a key of `t` that is not in `allowed`, with a did-you-mean hint.
    pub(super) fn known_keys(
        &self,
        path: &KeyPath,
        t: &toml::Table,
        allowed: &[&str],
    ) -> Result<(), ScenarioError> {
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = crate::scenario::error::did_you_mean(k, allowed.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(self.err(
                    &path.key(k),
                    format!(
                        "unknown key `{k}`{hint}; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}
