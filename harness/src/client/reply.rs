//! Responses: validation of a response line against its request, the
//! typed accessors of a reply, and the split of `batch` and `parallel`
//! results into one reply per op.

use super::ClientError;
use crate::protocol::{ErrorCode, Op, Payload};
use serde_json::{Map, Value};

/// A validated response: the results of a success, or a failure's code and
/// message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The op this answers.
    pub op: &'static str,
    /// Success results (without `id`/`ok`), or `(code, message)`.
    pub result: Result<Map<String, Value>, (ErrorCode, String)>,
    /// CLOCK_MONOTONIC ns: when the harness sent the request, or the
    /// driver's `t0` for an op inside `batch`/`parallel`.
    pub t0: u64,
    /// CLOCK_MONOTONIC ns: when the harness read the response, or the
    /// driver's `t1`.
    pub t1: u64,
}

/// `s` cut to at most `max` bytes on a character boundary, with `...`
/// appended when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// An op for transcripts: its JSON cut to 160 bytes; a `batch` or
/// `parallel` by its size.
pub fn describe_op(op: &Op) -> String {
    match op {
        Op::Batch { ops } => format!("batch of {} ops", ops.len()),
        Op::Parallel { threads } => format!(
            "parallel of {} threads ({} ops)",
            threads.len(),
            threads.iter().map(Vec::len).sum::<usize>()
        ),
        _ => truncate(&Value::Object(op.to_json()).to_string(), 160),
    }
}

pub(super) fn malformed(op: &str, reason: impl Into<String>, line: &str) -> ClientError {
    ClientError::Malformed {
        op: op.to_owned(),
        reason: reason.into(),
        line: truncate(line, 300),
    }
}

impl Reply {
    /// Validates a response object for `op` (`ok`, `error`, `message`).
    pub(super) fn parse(
        op: &'static str,
        obj: &Map<String, Value>,
        line: &str,
        t0: u64,
        t1: u64,
    ) -> Result<Reply, ClientError> {
        let result = match obj.get("ok") {
            Some(Value::Bool(true)) => {
                let mut m = obj.clone();
                m.remove("id");
                m.remove("ok");
                Ok(m)
            }
            Some(Value::Bool(false)) => {
                let code = obj
                    .get("error")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(op, "failure without an \"error\" string", line))?;
                let code = ErrorCode::parse(code)
                    .ok_or_else(|| malformed(op, format!("unknown error code {code:?}"), line))?;
                let message = obj
                    .get("message")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(op, "failure without a \"message\" string", line))?;
                Err((code, message.to_owned()))
            }
            _ => return Err(malformed(op, "no boolean \"ok\"", line)),
        };
        Ok(Reply { op, result, t0, t1 })
    }

    /// The error code, if this is a failure.
    pub fn error(&self) -> Option<ErrorCode> {
        self.result.as_ref().err().map(|(c, _)| *c)
    }

    fn field(&self, key: &str) -> Result<&Value, ClientError> {
        match &self.result {
            Ok(m) => m.get(key).ok_or_else(|| {
                malformed(
                    self.op,
                    format!("success without \"{key}\""),
                    &self.describe(),
                )
            }),
            Err((c, msg)) => Err(ClientError::Failed {
                op: self.op.into(),
                code: *c,
                message: msg.clone(),
            }),
        }
    }

    /// `stored` of a `put`/`put_wait` success.
    pub fn stored(&self) -> Result<bool, ClientError> {
        self.field("stored")?
            .as_bool()
            .ok_or_else(|| malformed(self.op, "\"stored\" is not a boolean", &self.describe()))
    }

    /// `data` of a `get`/`get_wait` success: `None` for null.
    pub fn data(&self) -> Result<Option<Vec<u8>>, ClientError> {
        match self.field("data")? {
            Value::Null => Ok(None),
            Value::String(s) => Payload::decode(s)
                .map(Some)
                .map_err(|e| malformed(self.op, e, &self.describe())),
            _ => Err(malformed(
                self.op,
                "\"data\" is neither a string nor null",
                &self.describe(),
            )),
        }
    }

    /// A non-negative integer result field.
    pub fn u64(&self, key: &str) -> Result<u64, ClientError> {
        self.field(key)?.as_u64().ok_or_else(|| {
            malformed(
                self.op,
                format!("\"{key}\" is not a non-negative integer"),
                &self.describe(),
            )
        })
    }

    /// One line for transcripts: `ok stored=true` or `error too_large (...)`.
    pub fn describe(&self) -> String {
        match &self.result {
            Ok(m) => {
                let mut parts = vec!["ok".to_owned()];
                for (k, v) in m {
                    if k == "t0" || k == "t1" {
                        continue;
                    }
                    let v = match v {
                        Value::String(s) if s.chars().count() > 40 => {
                            format!("\"{}...\"", s.chars().take(40).collect::<String>())
                        }
                        other => other.to_string(),
                    };
                    parts.push(format!("{k}={v}"));
                }
                parts.join(" ")
            }
            Err((c, msg)) => format!("error {c} ({msg})"),
        }
    }
}

fn results_list(reply: &Reply, n: usize) -> Result<&Vec<Value>, ClientError> {
    match &reply.result {
        Ok(m) => match m.get("results") {
            Some(Value::Array(list)) if list.len() == n => Ok(list),
            _ => Err(malformed(
                reply.op,
                format!("\"results\" is not a list of {n}"),
                &reply.describe(),
            )),
        },
        Err((c, msg)) => Err(ClientError::Failed {
            op: reply.op.into(),
            code: *c,
            message: msg.clone(),
        }),
    }
}

fn sub_reply(v: &Value, op: &Op) -> Result<Reply, ClientError> {
    let line = v.to_string();
    let Value::Object(obj) = v else {
        return Err(malformed(op.name(), "a result is not an object", &line));
    };
    let t = |k: &str| obj.get(k).and_then(Value::as_u64);
    let (Some(t0), Some(t1)) = (t("t0"), t("t1")) else {
        return Err(malformed(op.name(), "a result lacks integer t0/t1", &line));
    };
    if t1 < t0 {
        return Err(malformed(op.name(), "t1 is before t0", &line));
    }
    let mut obj = obj.clone();
    obj.remove("t0");
    obj.remove("t1");
    Reply::parse(op.name(), &obj, &line, t0, t1)
}

/// Splits the reply to a `batch` of `ops` into one reply per op, each
/// timed by the driver's `t0`/`t1`.
///
/// # Errors
/// [`ClientError::Malformed`] if the batch failed or its results do not
/// match its ops.
pub fn batch_replies(reply: &Reply, ops: &[Op]) -> Result<Vec<Reply>, ClientError> {
    let list = results_list(reply, ops.len())?;
    list.iter()
        .zip(ops)
        .map(|(v, op)| sub_reply(v, op))
        .collect()
}

/// Splits the reply to a `parallel` into one reply list per thread.
///
/// # Errors
/// As [`batch_replies`].
pub fn parallel_replies(
    reply: &Reply,
    threads: &[Vec<Op>],
) -> Result<Vec<Vec<Reply>>, ClientError> {
    let lists = results_list(reply, threads.len())?;
    let mut out = Vec::new();
    for (list, ops) in lists.iter().zip(threads) {
        let Value::Array(items) = list else {
            return Err(malformed(
                "parallel",
                "a thread's results are not a list",
                &list.to_string(),
            ));
        };
        if items.len() != ops.len() {
            return Err(malformed(
                "parallel",
                "a thread's results do not match its ops",
                &list.to_string(),
            ));
        }
        out.push(
            items
                .iter()
                .zip(ops)
                .map(|(v, op)| sub_reply(v, op))
                .collect::<Result<_, _>>()?,
        );
    }
    Ok(out)
}
