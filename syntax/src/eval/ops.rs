//! Binary and unary operators on values (LANGUAGE.md §4.3, §4.7), with upstream's
//! checks in upstream's order and its messages.

use crate::token::Token;
use crate::value::convert::unwrap_secrets;
use crate::value::{values_equal, Capsule, Value, ValueError, ValueType};
use std::cmp::Ordering;

/// Which operand of a binary operator an error is about; evaluation reports the
/// error at that operand's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Left,
    Right,
}

/// A failed binary operation: the operand at fault and the error about its value.
#[derive(Debug, Clone)]
pub struct OpError {
    pub operand: Operand,
    pub error: ValueError,
}

fn allowed_types(op: Token) -> &'static [ValueType] {
    match op {
        Token::Or | Token::And => &[ValueType::Bool],
        Token::Add => &[ValueType::Number, ValueType::String, ValueType::Capsule],
        Token::Sub | Token::Mul | Token::Div | Token::Mod | Token::Pow => &[ValueType::Number],
        _ => &[ValueType::Number, ValueType::String],
    }
}

fn disallowed(op: Token, actual: ValueType, operand: Operand) -> OpError {
    let names: Vec<&str> = allowed_types(op).iter().map(|t| t.as_str()).collect();
    OpError {
        operand,
        error: ValueError::message(format!(
            "should be one of [{}] for binop {}, got {}",
            names.join(" "),
            op.as_str(),
            actual
        )),
    }
}

/// Applies binary operator `op`. Both operands are already evaluated (there is no
/// short-circuit). Secrets are unwrapped first, `==`/`!=` never fail, then each
/// operand's type is checked for the operator (left first), then the two types must
/// match.
pub fn binary_op(lhs: &Value, op: Token, rhs: &Value) -> Result<Value, OpError> {
    let (l, r) = if matches!(lhs, Value::Capsule(_)) || matches!(rhs, Value::Capsule(_)) {
        unwrap_secrets(lhs, rhs)
    } else {
        (lhs.clone(), rhs.clone())
    };
    match op {
        Token::Eq => return Ok(Value::Bool(values_equal(&l, &r))),
        Token::Neq => return Ok(Value::Bool(!values_equal(&l, &r))),
        _ => {}
    }
    let allowed = allowed_types(op);
    if !allowed.contains(&l.value_type()) {
        return Err(disallowed(op, l.value_type(), Operand::Left));
    }
    if !allowed.contains(&r.value_type()) {
        return Err(disallowed(op, r.value_type(), Operand::Right));
    }
    if l.value_type() != r.value_type() {
        return Err(OpError {
            operand: Operand::Right,
            error: ValueError::type_mismatch(&r, l.value_type().as_str()),
        });
    }
    let divide_by_zero = || OpError {
        operand: Operand::Right,
        error: ValueError::message("divide by zero error"),
    };
    match (&l, &r) {
        (Value::Bool(a), Value::Bool(b)) => Ok(Value::Bool(match op {
            Token::Or => *a || *b,
            _ => *a && *b,
        })),
        (Value::String(a), Value::String(b)) => match op {
            Token::Add => {
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                Ok(Value::string(s))
            }
            _ => Ok(Value::Bool(compare(
                op,
                Some(a.as_bytes().cmp(b.as_bytes())),
            ))),
        },
        (Value::Number(a), Value::Number(b)) => Ok(match op {
            Token::Add => Value::Number(a.wrapping_add(*b)),
            Token::Sub => Value::Number(a.wrapping_sub(*b)),
            Token::Mul => Value::Number(a.wrapping_mul(*b)),
            Token::Div => Value::Number(a.checked_div(*b).ok_or_else(divide_by_zero)?),
            Token::Mod => Value::Number(a.checked_rem(*b).ok_or_else(divide_by_zero)?),
            Token::Pow => Value::Number(a.pow(*b)),
            _ => Value::Bool(compare(op, a.compare(*b))),
        }),
        (Value::Capsule(a), Value::Capsule(b)) => add_capsules(a, b),
        // Unreachable: the type checks above admit only the pairs handled here.
        _ => Err(disallowed(op, l.value_type(), Operand::Left)),
    }
}

/// Whether an ordering satisfies comparison `op`; NaN (`None`) satisfies none.
fn compare(op: Token, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        Token::Lt => ord == Ordering::Less,
        Token::Lte => ord != Ordering::Greater,
        Token::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }
}

/// `+` on two capsules: optional secrets concatenate with the OR of their flags,
/// secrets concatenate into a secret. Upstream reads a right operand of another type
/// as empty; other capsules cannot be added.
fn add_capsules(a: &Capsule, b: &Capsule) -> Result<Value, OpError> {
    match a {
        Capsule::OptionalSecret { value, is_secret } => {
            let (rv, rf) = match b {
                Capsule::OptionalSecret { value, is_secret } => (&**value, *is_secret),
                _ => ("", false),
            };
            Ok(Value::optional_secret(
                format!("{value}{rv}"),
                *is_secret || rf,
            ))
        }
        Capsule::Secret(value) => {
            let rv = match b {
                Capsule::Secret(v) => &**v,
                _ => "",
            };
            Ok(Value::secret(format!("{value}{rv}")))
        }
        Capsule::Host(_) => Err(OpError {
            operand: Operand::Left,
            error: ValueError::message(
                "could not perform binop + for unknown types lhs capsule rhs capsule",
            ),
        }),
    }
}

/// Applies unary `!` (bool) or `-` (number; ints and uints negate as i64).
pub fn unary_op(op: Token, value: &Value) -> Result<Value, ValueError> {
    match (op, value) {
        (Token::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (Token::Not, other) => Err(ValueError::type_mismatch(other, "bool")),
        (_, Value::Number(n)) => Ok(Value::Number(n.wrapping_neg())),
        (_, other) => Err(ValueError::type_mismatch(other, "number")),
    }
}
