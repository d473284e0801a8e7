//! Token kinds, their upstream names, and binary operator precedence.

use std::fmt;

/// A token kind. Literal text is not stored here: it is the source slice of the
/// token's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    Illegal,
    Eof,
    Comment,

    Ident,
    Number,
    Float,
    String,
    Bool,
    Null,

    Or,
    And,
    Not,
    Assign,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,

    LCurly,
    RCurly,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Dot,

    Terminator,
}

impl Token {
    /// The name used in messages (`expected TERMINATOR, got IDENT`): keyword-like
    /// kinds print in capitals and operators print as their own text.
    pub fn as_str(self) -> &'static str {
        match self {
            Token::Illegal => "ILLEGAL",
            Token::Eof => "EOF",
            Token::Comment => "COMMENT",
            Token::Ident => "IDENT",
            Token::Number => "NUMBER",
            Token::Float => "FLOAT",
            Token::String => "STRING",
            Token::Bool => "BOOL",
            Token::Null => "NULL",
            Token::Or => "||",
            Token::And => "&&",
            Token::Not => "!",
            Token::Assign => "=",
            Token::Eq => "==",
            Token::Neq => "!=",
            Token::Lt => "<",
            Token::Lte => "<=",
            Token::Gt => ">",
            Token::Gte => ">=",
            Token::Add => "+",
            Token::Sub => "-",
            Token::Mul => "*",
            Token::Div => "/",
            Token::Mod => "%",
            Token::Pow => "^",
            Token::LCurly => "{",
            Token::RCurly => "}",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBrack => "[",
            Token::RBrack => "]",
            Token::Comma => ",",
            Token::Dot => ".",
            Token::Terminator => "TERMINATOR",
        }
    }

    /// The kind name used by the conformance data (`ADD`, `LCURLY`, ...).
    pub fn conformance_name(self) -> &'static str {
        match self {
            Token::Or => "OR",
            Token::And => "AND",
            Token::Not => "NOT",
            Token::Assign => "ASSIGN",
            Token::Eq => "EQ",
            Token::Neq => "NEQ",
            Token::Lt => "LT",
            Token::Lte => "LTE",
            Token::Gt => "GT",
            Token::Gte => "GTE",
            Token::Add => "ADD",
            Token::Sub => "SUB",
            Token::Mul => "MUL",
            Token::Div => "DIV",
            Token::Mod => "MOD",
            Token::Pow => "POW",
            Token::LCurly => "LCURLY",
            Token::RCurly => "RCURLY",
            Token::LParen => "LPAREN",
            Token::RParen => "RPAREN",
            Token::LBrack => "LBRACK",
            Token::RBrack => "RBRACK",
            Token::Comma => "COMMA",
            Token::Dot => "DOT",
            other => other.as_str(),
        }
    }

    /// Precedence of a binary operator, 1 (`||`) to 6 (`^`); 0 for anything else.
    pub fn binary_precedence(self) -> u8 {
        match self {
            Token::Or => 1,
            Token::And => 2,
            Token::Eq | Token::Neq | Token::Lt | Token::Lte | Token::Gt | Token::Gte => 3,
            Token::Add | Token::Sub => 4,
            Token::Mul | Token::Div | Token::Mod => 5,
            Token::Pow => 6,
            _ => 0,
        }
    }

    /// Whether a newline after this token ends a statement (LANGUAGE.md §2.1).
    pub fn ends_statement(self) -> bool {
        matches!(
            self,
            Token::Ident
                | Token::Bool
                | Token::Null
                | Token::Number
                | Token::Float
                | Token::String
                | Token::RParen
                | Token::RBrack
                | Token::RCurly
        )
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
