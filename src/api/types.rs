//! What goes over the wire: request and response bodies of `/api/v1/surveys`, shared by the
//! server and the command-line client.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ratings::Rating;

/// Phone numbers: an optional leading `+`, then digits; this many characters in all.
pub const NUMBER_CHARS: std::ops::RangeInclusive<usize> = 3..=20;

/// Longest ticket and unit, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// `POST /api/v1/surveys`: call `number` back about `ticket`, which `unit` handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyRequestBody {
    pub number: String,
    pub ticket: String,
    pub unit: String,
}

/// Why a request body was refused (400); the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    #[error("number must be an optional + and digits, {min}..={max} characters", min = NUMBER_CHARS.start(), max = NUMBER_CHARS.end())]
    Number,
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {chars} characters; at most {MAX_LABEL_CHARS}")]
    TooLong { field: &'static str, chars: usize },
    #[error("{field} must not hold control characters")]
    Control { field: &'static str },
}

impl InvalidRequest {
    /// The field the request was refused for.
    pub fn field(&self) -> &'static str {
        match self {
            InvalidRequest::Number => "number",
            InvalidRequest::Empty { field }
            | InvalidRequest::TooLong { field, .. }
            | InvalidRequest::Control { field } => field,
        }
    }
}

impl SurveyRequestBody {
    /// The checks the API makes before handing a request to [`super::Surveys::request`].
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        let digits = self.number.strip_prefix('+').unwrap_or(&self.number);
        if !NUMBER_CHARS.contains(&self.number.len())
            || digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(InvalidRequest::Number);
        }
        check_label("ticket", &self.ticket)?;
        check_label("unit", &self.unit)
    }
}

fn check_label(field: &'static str, value: &str) -> Result<(), InvalidRequest> {
    if value.trim().is_empty() {
        return Err(InvalidRequest::Empty { field });
    }
    let chars = value.chars().count();
    if chars > MAX_LABEL_CHARS {
        return Err(InvalidRequest::TooLong { field, chars });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidRequest::Control { field });
    }
    Ok(())
}

/// Where a survey call stands. The strings are the API's; adding a variant is fine, renaming
/// one breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyState {
    /// Waiting for a free line or for calling hours.
    Queued,
    /// A call attempt is under way.
    Calling,
    /// The citizen answered both questions.
    Completed,
    /// The citizen answered but did not consent, or hung up before answering.
    Declined,
    /// Every attempt failed (联络不畅, contact failure).
    Unreachable,
}

impl SurveyState {
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyState::Queued => "queued",
            SurveyState::Calling => "calling",
            SurveyState::Completed => "completed",
            SurveyState::Declined => "declined",
            SurveyState::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for SurveyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 202 for `POST /api/v1/surveys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyCreated {
    pub id: String,
    pub status: SurveyState,
}

/// 200 for `GET /api/v1/surveys/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyStatusBody {
    pub id: String,
    pub number: String,
    pub ticket: String,
    pub unit: String,
    pub status: SurveyState,
    /// Call attempts made so far.
    pub attempts: u32,
    /// Satisfaction with how the matter was resolved, once answered.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rating")]
    pub result: Option<Rating>,
    /// Satisfaction with the handler's attitude, once answered.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rating")]
    pub attitude: Option<Rating>,
}

/// Every error response: `{"error": "..."}`, with `"field"` naming the part of the request
/// that was refused when one was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Ratings on the wire use the stored names (`satisfied`, `basically_satisfied`,
/// `dissatisfied`).
mod rating {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    use crate::ratings::Rating;

    pub fn serialize<S: Serializer>(value: &Option<Rating>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(r) => s.serialize_some(r.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Rating>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| s.parse().map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(number: &str, ticket: &str, unit: &str) -> SurveyRequestBody {
        SurveyRequestBody {
            number: number.into(),
            ticket: ticket.into(),
            unit: unit.into(),
        }
    }

    #[test]
    fn numbers() {
        for good in [
            "13800000000",
            "+8613800000000",
            "110",
            "+12",
            "12345678901234567890",
        ] {
            assert_eq!(body(good, "T", "u").validate(), Ok(()), "{good}");
        }
        for bad in [
            "",
            "+",
            "12",
            "1380000000a",
            "138 0000 0000",
            "1+38",
            "123456789012345678901",
            "١٢٣",
        ] {
            assert_eq!(
                body(bad, "T", "u").validate(),
                Err(InvalidRequest::Number),
                "{bad}"
            );
        }
    }

    #[test]
    fn labels() {
        assert_eq!(
            body("110", " ", "u").validate(),
            Err(InvalidRequest::Empty { field: "ticket" })
        );
        assert_eq!(
            body("110", "T", &"单".repeat(65)).validate(),
            Err(InvalidRequest::TooLong {
                field: "unit",
                chars: 65
            })
        );
        assert_eq!(body("110", "T", &"单".repeat(64)).validate(), Ok(()));
        assert_eq!(
            body("110", "T\n1", "u").validate(),
            Err(InvalidRequest::Control { field: "ticket" })
        );
    }

    #[test]
    fn status_body_round_trips_with_rating_names() {
        let status = SurveyStatusBody {
            id: "s-1".into(),
            number: "110".into(),
            ticket: "T".into(),
            unit: "u".into(),
            status: SurveyState::Completed,
            attempts: 2,
            result: Some(Rating::BasicallySatisfied),
            attitude: None,
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["result"], "basically_satisfied");
        assert_eq!(json["status"], "completed");
        assert!(json.get("attitude").is_none());
        let back: SurveyStatusBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
    }
}
