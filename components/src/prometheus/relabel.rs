//! The relabel engine: `rule` blocks decoded and validated as Alloy does, and applied to
//! a label set with the semantics of Prometheus's `model/relabel` package.
//!
//! Where to start: [`decode_rules`] turns the `rule` blocks of a component body into
//! [`Rule`]s, [`LabelBuilder`] holds one label set being rewritten, and [`process`]
//! applies a rule list to it. [`Rules`] is the `rules` capsule components export.
//!
//! Regular expressions are written in Go's RE2 syntax and run on the `regex` crate;
//! [`Regex::new`] translates the few places where the two read the same text
//! differently (ASCII `\d`, `\w`, `\s` and `\b`, `\Q...\E`, literal `{` and `[`).

use crate::prometheus::{Label, Labels};
use alloy_runtime::decode::Decoder;
use alloy_runtime::schema::{attr, BlockSpec, LabelRule, Repeat, Schema, Ty};
use alloy_syntax::parser::go_quote;
use alloy_syntax::value::{Capsule, HostValue, Value, ValueError};
use alloy_syntax::Diagnostic;
use md5::{Digest, Md5};
use std::fmt;
use std::sync::{Arc, LazyLock};

/// The schema of one `rule` block.
pub static RULE_SCHEMA: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("source_labels", Ty::Array(&Ty::String)),
        attr!("separator", Ty::String),
        attr!("regex", Ty::String),
        attr!("modulus", Ty::Uint),
        attr!("target_label", Ty::String),
        attr!("replacement", Ty::String),
        attr!("action", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

/// The `rule` block as it appears in `discovery.relabel` and `prometheus.relabel`
/// (0..n, applied in order).
pub const RULE_BLOCK: BlockSpec = BlockSpec {
    name: "rule",
    schema: &RULE_SCHEMA,
    required: false,
    repeat: Repeat::Many,
};

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// The action named `text`, case-sensitively as Alloy reads it (Prometheus's YAML
    /// lowercases first; Alloy does not).
    pub fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fully anchored regular expression, compared by its source text.
#[derive(Clone)]
pub struct Regex {
    source: Arc<str>,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `source` anchored as `^(?s:source)$`, as Alloy (and Prometheus 3) do:
    /// the whole value must match, and `.` matches newlines too. Errors are worded as
    /// Go's `regexp.Compile` words them where we can tell the kind.
    pub fn new(source: &str) -> Result<Regex, String> {
        let anchored = format!("^(?s:{source})$");
        let translated = translate(source).map_err(|e| e.render(&anchored))?;
        let re = regex::Regex::new(&format!("^(?s:{translated})$")).map_err(|err| {
            let text = err.to_string();
            // The crate's message ends with "error: <what>"; keep just that.
            let what = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(&text);
            format!("error parsing regexp: {what}: `{anchored}`")
        })?;
        Ok(Regex {
            source: source.into(),
            re,
        })
    }

    /// The text the rule was written with (without the anchors).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text)
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

/// A translation failure, in Go's words: the error code and the offending text.
struct GoRegexError {
    code: &'static str,
    /// The part of the pattern at fault, or `None` for the whole anchored pattern.
    expr: Option<String>,
}

impl GoRegexError {
    fn render(&self, anchored: &str) -> String {
        let expr = self.expr.as_deref().unwrap_or(anchored);
        format!("error parsing regexp: {}: `{expr}`", self.code)
    }

    fn at(code: &'static str, expr: impl Into<String>) -> GoRegexError {
        GoRegexError {
            code,
            expr: Some(expr.into()),
        }
    }
}

/// Go's `\d`, `\w`, `\s` are ASCII-only; the `regex` crate's are Unicode. These are
/// the class bodies Go uses.
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = "\\t\\n\\x0C\\r\\x20";

/// Rewrites Go RE2 syntax into `regex` crate syntax with the same meaning, rejecting
/// what Go rejects where the crate would accept it (or mean something else).
fn translate(pattern: &str) -> Result<String, GoRegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut depth = 0usize;
    // Whether the last item can take a repetition operator, and whether it already
    // has one (Go rejects `a**`, allows `a*?`).
    let mut can_repeat = false;
    let mut repeated: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let (next, text) = escape(&chars, i, false)?;
                out.push_str(&text);
                i = next;
                can_repeat = true;
                repeated = None;
            }
            '[' => {
                let start = i;
                i = class(&chars, i, &mut out).map_err(|mut e| {
                    if e.code == "missing closing ]" {
                        let rest: String = chars[start..].iter().collect();
                        e.expr = Some(format!("{rest})$"));
                    }
                    e
                })?;
                can_repeat = true;
                repeated = None;
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    i = group_flags(&chars, i, &mut out)?;
                    if out.ends_with(')') {
                        // A bare flag group `(?i)` is not a group: nothing to close.
                        can_repeat = false;
                        repeated = None;
                        continue;
                    }
                } else {
                    out.push('(');
                    i += 1;
                }
                depth += 1;
                can_repeat = false;
                repeated = None;
            }
            ')' => {
                if depth == 0 {
                    return Err(GoRegexError {
                        code: "unexpected )",
                        expr: None,
                    });
                }
                depth -= 1;
                out.push(')');
                i += 1;
                can_repeat = true;
                repeated = None;
            }
            '|' => {
                out.push('|');
                i += 1;
                can_repeat = false;
                repeated = None;
            }
            '*' | '+' | '?' | '{' => {
                let (len, is_repeat) = if c == '{' {
                    match counted_repeat(&chars, i)? {
                        Some(len) => (len, true),
                        None => (1, false),
                    }
                } else {
                    (1, true)
                };
                if !is_repeat {
                    // Go reads a `{` that starts no valid count as a literal.
                    out.push_str("\\{");
                    i += 1;
                    can_repeat = true;
                    repeated = None;
                    continue;
                }
                let op: String = chars[i..i + len].iter().collect();
                if let Some(start) = repeated {
                    // One `?` after a repetition makes it non-greedy; anything else nests.
                    let prev: String = chars[start..i].iter().collect();
                    if c != '?' || (prev.ends_with('?') && prev.len() > 1) {
                        return Err(GoRegexError::at(
                            "invalid nested repetition operator",
                            format!("{prev}{op}"),
                        ));
                    }
                    out.push_str(&op);
                    i += len;
                    continue;
                }
                if !can_repeat {
                    return Err(GoRegexError::at(
                        "missing argument to repetition operator",
                        op,
                    ));
                }
                out.push_str(&op);
                repeated = Some(i);
                i += len;
            }
            _ => {
                out.push(c);
                i += 1;
                can_repeat = !matches!(c, '^' | '$');
                repeated = None;
            }
        }
    }
    if depth > 0 {
        return Err(GoRegexError {
            code: "missing closing )",
            expr: None,
        });
    }
    Ok(out)
}

/// The length of a valid Go counted repetition at `i` (`{2}`, `{2,}`, `{2,5}`), or
/// `None` when the `{` is a literal. Counts over 1000 are an error in Go.
fn counted_repeat(chars: &[char], i: usize) -> Result<Option<usize>, GoRegexError> {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while chars.get(*j).is_some_and(char::is_ascii_digit) {
            *j += 1;
        }
        (start < *j).then(|| chars[start..*j].iter().collect::<String>())
    };
    let Some(min) = digits(&mut j) else {
        return Ok(None);
    };
    let mut max = Some(min.clone());
    if chars.get(j) == Some(&',') {
        j += 1;
        max = digits(&mut j);
    }
    if chars.get(j) != Some(&'}') {
        return Ok(None);
    }
    let len = j + 1 - i;
    let parse = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
    let (lo, hi) = (parse(&min), max.as_deref().map(parse));
    if lo > 1000 || hi.is_some_and(|h| h > 1000 || h < lo) {
        let text: String = chars[i..i + len].iter().collect();
        return Err(GoRegexError::at("invalid repeat count", text));
    }
    Ok(Some(len))
}

/// Copies a `(?` construct: a named group (`(?P<n>`, `(?<n>`) or flags (`(?i)`,
/// `(?i:`). Go knows only the flags `i`, `m`, `s` and `U`.
fn group_flags(chars: &[char], i: usize, out: &mut String) -> Result<usize, GoRegexError> {
    let rest: String = chars[i..].iter().collect();
    if rest.starts_with("(?P<") || rest.starts_with("(?<") {
        let open = if rest.starts_with("(?P<") { 4 } else { 3 };
        let Some(close) = rest[open..].find('>') else {
            return Err(GoRegexError::at("invalid named capture", rest));
        };
        let name = &rest[open..open + close];
        let valid = !name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(GoRegexError::at(
                "invalid named capture",
                &rest[..open + close + 1],
            ));
        }
        out.push_str(&rest[..open + close + 1]);
        return Ok(i + rest[..open + close + 1].chars().count());
    }
    if chars.get(i + 2) == Some(&':') {
        out.push_str("(?:");
        return Ok(i + 3);
    }
    // Go's rules: at least one flag overall, and at least one after a `-`.
    let mut j = i + 2;
    let mut seen_minus = false;
    let mut flags_before = false;
    let mut flags_after = false;
    while let Some(&c) = chars.get(j) {
        let text = || chars[i..=j].iter().collect::<String>();
        match c {
            'i' | 'm' | 's' | 'U' if seen_minus => flags_after = true,
            'i' | 'm' | 's' | 'U' => flags_before = true,
            '-' if !seen_minus => seen_minus = true,
            ':' | ')' if flags_after || (flags_before && !seen_minus) => {
                out.push_str(&text());
                return Ok(j + 1);
            }
            _ => {
                return Err(GoRegexError::at(
                    "invalid or unsupported Perl syntax",
                    text(),
                ))
            }
        }
        j += 1;
    }
    Err(GoRegexError {
        code: "missing closing )",
        expr: None,
    })
}

/// Translates the escape at `chars[i] == '\\'`; returns the index after it.
fn escape(chars: &[char], i: usize, in_class: bool) -> Result<(usize, String), GoRegexError> {
    let Some(&c) = chars.get(i + 1) else {
        return Err(GoRegexError::at(
            "trailing backslash at end of expression",
            "",
        ));
    };
    let bad = || GoRegexError::at("invalid escape sequence", format!("\\{c}"));
    let perl = |body: &str, negated: bool| match (in_class, negated) {
        (true, false) => body.to_string(),
        (_, true) => format!("[^{body}]"),
        (false, false) => format!("[{body}]"),
    };
    let text = match c {
        'd' | 'D' => perl(DIGIT, c == 'D'),
        'w' | 'W' => perl(WORD, c == 'W'),
        's' | 'S' => perl(SPACE, c == 'S'),
        'b' | 'B' if !in_class => format!("(?-u:\\{c})"),
        'A' | 'z' if !in_class => format!("\\{c}"),
        'a' | 'f' | 't' | 'n' | 'r' | 'v' => format!("\\{c}"),
        'Q' if !in_class => {
            // Literal text up to `\E` or the end.
            let mut j = i + 2;
            let mut lit = String::new();
            while j < chars.len() {
                if chars[j] == '\\' && chars.get(j + 1) == Some(&'E') {
                    j += 2;
                    return Ok((j, regex::escape(&lit)));
                }
                lit.push(chars[j]);
                j += 1;
            }
            return Ok((j, regex::escape(&lit)));
        }
        'p' | 'P' | 'x' => {
            // Copied through; the crate checks the name or digits.
            let mut j = i + 2;
            let mut text = format!("\\{c}");
            if chars.get(j) == Some(&'{') {
                while j < chars.len() {
                    text.push(chars[j]);
                    j += 1;
                    if chars[j - 1] == '}' {
                        break;
                    }
                }
            } else {
                let take = if c == 'x' { 2 } else { 1 };
                for _ in 0..take {
                    if let Some(&d) = chars.get(j) {
                        text.push(d);
                        j += 1;
                    }
                }
            }
            return Ok((j, text));
        }
        '0'..='7' => {
            // Go's octal escapes: `\0`, or `\1`..`\7` followed by another octal digit
            // (a lone `\1` would be a backreference, which RE2 does not have).
            let mut j = i + 1;
            let mut value = 0u32;
            while j < chars.len() && j < i + 4 && ('0'..='7').contains(&chars[j]) {
                value = value * 8 + (chars[j] as u32 - '0' as u32);
                j += 1;
            }
            if c != '0' && j == i + 2 {
                return Err(bad());
            }
            return Ok((j, format!("\\x{{{value:X}}}")));
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => {
            // Go reads any escaped ASCII punctuation as the literal character; the crate
            // gives some of them other meanings (`\<`, `\>`).
            regex::escape(&c.to_string())
        }
        _ => return Err(bad()),
    };
    Ok((i + 2, text))
}

/// Copies a bracket class starting at `chars[i] == '['`; returns the index after it.
fn class(chars: &[char], i: usize, out: &mut String) -> Result<usize, GoRegexError> {
    let mut j = i + 1;
    out.push('[');
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        // A `]` first in the class is a literal, in both dialects.
        out.push_str("\\]");
        j += 1;
    }
    while let Some(&c) = chars.get(j) {
        match c {
            ']' => {
                out.push(']');
                return Ok(j + 1);
            }
            '\\' => {
                let (next, text) = escape(chars, j, true)?;
                out.push_str(&text);
                j = next;
            }
            '[' if chars.get(j + 1) == Some(&':') => {
                // A POSIX class such as `[:alpha:]`: the same in both.
                let rest: String = chars[j..].iter().collect();
                match rest.find(":]") {
                    Some(end) => {
                        out.push_str(&rest[..end + 2]);
                        j += rest[..end + 2].chars().count();
                    }
                    None => {
                        out.push_str("\\[");
                        j += 1;
                    }
                }
            }
            // Literals in Go; nesting and set operators in the crate.
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                j += 1;
            }
            '-' if chars.get(j + 1) == Some(&'-') => {
                out.push_str("-\\-");
                j += 2;
            }
            _ => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(GoRegexError {
        code: "missing closing ]",
        expr: None,
    })
}

/// Whether `name` is a valid label name under Prometheus's legacy scheme
/// (`[a-zA-Z_][a-zA-Z0-9_]*`), which Alloy keeps as its default.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Prometheus's `relabelTarget`: a label name that may contain `$1`, `${1}` or `$name`
/// references, checked before expansion.
static RELABEL_TARGET: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("the pattern is a constant known to compile")
});

/// One relabeling rule, validated and compiled.
#[derive(Clone)]
pub struct Rule {
    pub source_labels: Vec<Arc<str>>,
    /// Whether `source_labels` was written at all (`labeldrop` and `labelkeep`
    /// refuse it even when empty, as upstream does).
    pub source_labels_set: bool,
    pub separator: Arc<str>,
    pub regex: Regex,
    pub modulus: u64,
    pub target_label: Arc<str>,
    pub replacement: Arc<str>,
    pub action: Action,
    target_has_ref: bool,
    replacement_has_ref: bool,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.source_labels == other.source_labels
            && self.source_labels_set == other.source_labels_set
            && self.separator == other.separator
            && self.regex == other.regex
            && self.modulus == other.modulus
            && self.target_label == other.target_label
            && self.replacement == other.replacement
            && self.action == other.action
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("source_labels", &self.source_labels)
            .field("separator", &self.separator)
            .field("regex", &self.regex)
            .field("modulus", &self.modulus)
            .field("target_label", &self.target_label)
            .field("replacement", &self.replacement)
            .field("action", &self.action)
            .finish()
    }
}

/// A rule as written, before validation; fields hold their defaults when unset.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    pub source_labels: Option<Vec<String>>,
    pub separator: String,
    pub regex: String,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: String,
}

impl Default for RuleConfig {
    fn default() -> RuleConfig {
        RuleConfig {
            source_labels: None,
            separator: DEFAULT_SEPARATOR.into(),
            regex: DEFAULT_REGEX.into(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.into(),
            action: "replace".into(),
        }
    }
}

/// Why a rule is invalid, and which attribute to point at (`None`: the whole block).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub attr: Option<&'static str>,
    pub message: String,
}

impl RuleError {
    fn block(message: String) -> RuleError {
        RuleError {
            attr: None,
            message,
        }
    }
}

impl Rule {
    /// Validates and compiles `cfg` with Alloy's checks and messages.
    pub fn new(cfg: RuleConfig) -> Result<Rule, RuleError> {
        let action = Action::parse(&cfg.action).ok_or_else(|| RuleError {
            attr: Some("action"),
            message: format!("unrecognized action type {}", go_quote(&cfg.action)),
        })?;
        let regex = Regex::new(&cfg.regex).map_err(|message| RuleError {
            attr: Some("regex"),
            message,
        })?;
        validate(&cfg, action)?;
        Ok(Rule {
            source_labels: cfg
                .source_labels
                .iter()
                .flatten()
                .map(|s| Arc::from(s.as_str()))
                .collect(),
            source_labels_set: cfg.source_labels.is_some(),
            separator: cfg.separator.into(),
            regex,
            modulus: cfg.modulus,
            target_has_ref: cfg.target_label.contains('$'),
            replacement_has_ref: cfg.replacement.contains('$'),
            target_label: cfg.target_label.into(),
            replacement: cfg.replacement.into(),
            action,
        })
    }

    /// The rule written back as its configuration (for exports and messages).
    pub fn config(&self) -> RuleConfig {
        RuleConfig {
            source_labels: self
                .source_labels_set
                .then(|| self.source_labels.iter().map(|s| s.to_string()).collect()),
            separator: self.separator.to_string(),
            regex: self.regex.as_str().to_string(),
            modulus: self.modulus,
            target_label: self.target_label.to_string(),
            replacement: self.replacement.to_string(),
            action: self.action.as_str().to_string(),
        }
    }
}

/// Alloy's `Config.Validate`, check for check and word for word.
fn validate(cfg: &RuleConfig, action: Action) -> Result<(), RuleError> {
    use Action::*;
    let target = &cfg.target_label;
    let quoted = || go_quote(target);
    if cfg.modulus == 0 && action == HashMod {
        return Err(RuleError::block(
            "relabel configuration for hashmod requires non-zero modulus".into(),
        ));
    }
    let needs_target = matches!(
        action,
        Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
    );
    if needs_target && target.is_empty() {
        return Err(RuleError::block(format!(
            "relabel configuration for {action} action requires 'target_label' value"
        )));
    }
    let invalid_target = || {
        RuleError::block(format!(
            "{} is invalid 'target_label' for {action} action",
            quoted()
        ))
    };
    if action == Replace && !target.contains('$') && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if action == Replace && target.contains('$') && !RELABEL_TARGET.is_match(target) {
        return Err(invalid_target());
    }
    let plain_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if plain_target && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if plain_target && cfg.replacement != DEFAULT_REPLACEMENT {
        return Err(RuleError::block(format!(
            "'replacement' can not be set for {action} action"
        )));
    }
    if action == LabelMap && !RELABEL_TARGET.is_match(&cfg.replacement) {
        return Err(RuleError::block(format!(
            "{} is invalid 'replacement' for {action} action",
            go_quote(&cfg.replacement)
        )));
    }
    if action == HashMod && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if matches!(action, LabelDrop | LabelKeep)
        && (cfg.source_labels.is_some()
            || !target.is_empty()
            || cfg.modulus != 0
            || cfg.separator != DEFAULT_SEPARATOR
            || cfg.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RuleError::block(format!(
            "{action} action requires only 'regex', and no other fields"
        )));
    }
    if matches!(action, KeepEqual | DropEqual)
        && (cfg.regex != DEFAULT_REGEX
            || cfg.modulus != 0
            || cfg.separator != DEFAULT_SEPARATOR
            || cfg.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RuleError::block(format!(
            "{action} action requires only 'source_labels' and 'target_label', and no other fields"
        )));
    }
    Ok(())
}

/// Decodes one `rule` block body.
pub fn decode_rule(d: &Decoder) -> Result<Rule, Diagnostic> {
    let defaults = RuleConfig::default();
    let cfg = RuleConfig {
        source_labels: d.attr("source_labels")?,
        separator: d.attr_or("separator", defaults.separator)?,
        regex: d.attr_or("regex", defaults.regex)?,
        modulus: d.attr_or("modulus", 0u64)?,
        target_label: d.attr_or("target_label", defaults.target_label)?,
        replacement: d.attr_or("replacement", defaults.replacement)?,
        action: d.attr_or("action", defaults.action)?,
    };
    Rule::new(cfg).map_err(|e| {
        let span = e.attr.map_or_else(|| d.span(), |a| d.span_of(a));
        d.error(span, e.message)
    })
}

/// Decodes every `block` block of a body (`rule` for the relabel components), in order.
/// This is what a component with relabel rules calls from its `Arguments::decode`.
pub fn decode_rules<'b>(d: &Decoder<'b>, block: &'b str) -> Result<Vec<Rule>, Diagnostic> {
    d.blocks(block).map(|b| decode_rule(&b)).collect()
}

/// A label set being rewritten, with Prometheus's `labels.Builder` semantics: a base
/// set plus additions (in insertion order) and deletions. Reuse one builder across
/// label sets with [`LabelBuilder::reset`] to keep its buffers.
#[derive(Debug, Default)]
pub struct LabelBuilder {
    base: Labels,
    add: Vec<Label>,
    del: Vec<Arc<str>>,
    /// Scratch for the joined source values and for snapshots of the label set.
    value_buf: String,
    range_buf: Vec<Label>,
}

impl LabelBuilder {
    pub fn new(base: Labels) -> LabelBuilder {
        LabelBuilder {
            base,
            ..LabelBuilder::default()
        }
    }

    /// Starts over from `base`, keeping the allocated buffers.
    pub fn reset(&mut self, base: Labels) {
        self.base = base;
        self.add.clear();
        self.del.clear();
    }

    /// The value of `name`, or `""` when absent (Prometheus does not tell them apart).
    pub fn get(&self, name: &str) -> &str {
        if let Some(l) = self.add.iter().find(|l| &*l.name == name) {
            return &l.value;
        }
        if self.del.iter().any(|d| &**d == name) {
            return "";
        }
        self.base.get(name).unwrap_or("")
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: Arc<str>, value: Arc<str>) {
        if value.is_empty() {
            self.del(&name);
            return;
        }
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.add.push(Label { name, value }),
        }
    }

    pub fn del(&mut self, name: &Arc<str>) {
        self.add.retain(|l| l.name != *name);
        if !self.del.contains(name) {
            self.del.push(name.clone());
        }
    }

    /// A snapshot of the current labels in Prometheus's `Range` order: surviving base
    /// labels sorted, then additions in the order they were made. The order matters
    /// when `labelmap` maps two labels onto one name: the last one wins.
    fn snapshot(&self, out: &mut Vec<Label>) {
        out.clear();
        out.extend(
            self.base
                .iter()
                .filter(|l| {
                    !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name)
                })
                .cloned(),
        );
        out.extend(self.add.iter().cloned());
    }

    /// Whether the result would equal the base set (additions that restate base
    /// values and deletions of absent labels change nothing).
    fn unchanged(&self) -> bool {
        self.add
            .iter()
            .all(|a| self.base.get(&a.name) == Some(&*a.value))
            && self
                .del
                .iter()
                .all(|d| self.base.get(d).is_none() || self.add.iter().any(|a| a.name == *d))
    }

    /// The resulting label set. When nothing changed this is the base set itself (the
    /// same allocation, so callers can test [`Labels::ptr_eq`]); otherwise only the
    /// additions are sorted and merged in.
    pub fn labels(&self) -> Labels {
        if (self.add.is_empty() && self.del.is_empty()) || self.unchanged() {
            return self.base.clone();
        }
        let mut added = self.add.clone();
        added.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::with_capacity(self.base.len() + added.len());
        let mut kept = self
            .base
            .iter()
            .filter(|l| !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name))
            .peekable();
        let mut added = added.into_iter().peekable();
        loop {
            let take_base = match (kept.peek(), added.peek()) {
                (Some(b), Some(a)) => b.name < a.name,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_base {
                out.extend(kept.next().cloned());
            } else {
                out.extend(added.next());
            }
        }
        Labels::from_sorted(out)
    }
}

/// Applies `rules` in order; `false` when a rule dropped the label set (the builder is
/// then in an unspecified state).
pub fn process(lb: &mut LabelBuilder, rules: &[Rule]) -> bool {
    rules.iter().all(|rule| apply(rule, lb))
}

/// Relabels `labels`, returning the result or `None` when dropped. A convenience over
/// [`process`] for callers without a builder to reuse.
pub fn process_labels(labels: &Labels, rules: &[Rule]) -> Option<Labels> {
    let mut lb = LabelBuilder::new(labels.clone());
    process(&mut lb, rules).then(|| lb.labels())
}

fn apply(rule: &Rule, lb: &mut LabelBuilder) -> bool {
    let mut val = std::mem::take(&mut lb.value_buf);
    val.clear();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&rule.separator);
        }
        val.push_str(lb.get(name));
    }
    let keep = apply_to_value(rule, lb, &val);
    lb.value_buf = val;
    keep
}

fn apply_to_value(rule: &Rule, lb: &mut LabelBuilder, val: &str) -> bool {
    match rule.action {
        Action::Drop => return !rule.regex.is_match(val),
        Action::Keep => return rule.regex.is_match(val),
        Action::DropEqual => return lb.get(&rule.target_label) != val,
        Action::KeepEqual => return lb.get(&rule.target_label) == val,
        Action::Replace => {
            let mut locs = rule.regex.re.capture_locations();
            if rule.regex.re.captures_read(&mut locs, val).is_none() {
                return true;
            }
            let target: Arc<str> = if rule.target_has_ref {
                expand(&rule.regex.re, &rule.target_label, val, &locs).into()
            } else {
                rule.target_label.clone()
            };
            if !is_valid_label_name(&target) {
                return true;
            }
            let value: Arc<str> = if rule.replacement_has_ref {
                expand(&rule.regex.re, &rule.replacement, val, &locs).into()
            } else {
                rule.replacement.clone()
            };
            if value.is_empty() {
                lb.del(&target);
            } else {
                lb.set(target, value);
            }
        }
        Action::Lowercase => lb.set(rule.target_label.clone(), go_lowercase(val).into()),
        Action::Uppercase => lb.set(rule.target_label.clone(), go_uppercase(val).into()),
        Action::HashMod => {
            let value = hashmod(val, rule.modulus).to_string();
            lb.set(rule.target_label.clone(), value.into());
        }
        Action::LabelMap | Action::LabelDrop | Action::LabelKeep => {
            let mut snapshot = std::mem::take(&mut lb.range_buf);
            lb.snapshot(&mut snapshot);
            let mut locs = rule.regex.re.capture_locations();
            for l in &snapshot {
                match rule.action {
                    // The regex is anchored, so Go's ReplaceAllString makes exactly one
                    // replacement: the expanded template.
                    Action::LabelMap
                        if rule.regex.re.captures_read(&mut locs, &l.name).is_some() =>
                    {
                        let name = expand(&rule.regex.re, &rule.replacement, &l.name, &locs);
                        lb.set(name.into(), l.value.clone());
                    }
                    Action::LabelDrop if rule.regex.is_match(&l.name) => lb.del(&l.name),
                    Action::LabelKeep if !rule.regex.is_match(&l.name) => lb.del(&l.name),
                    _ => {}
                }
            }
            snapshot.clear();
            lb.range_buf = snapshot;
        }
    }
    true
}

/// Prometheus's hashmod: the MD5 digest of the value, of which only the last 8 bytes
/// count, read big-endian, modulo `modulus`. In Go:
/// `binary.BigEndian.Uint64(md5.Sum([]byte(val))[8:]) % cfg.Modulus` (older versions
/// summed all 16 bytes shifted into a uint64, where the first 8 shift out: the same).
pub fn hashmod(val: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(val.as_bytes());
    let mut last = [0u8; 8];
    last.copy_from_slice(&digest[8..16]);
    // A zero modulus is rejected when the rule is built; guard anyway.
    u64::from_be_bytes(last).checked_rem(modulus).unwrap_or(0)
}

/// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}` and `$$`. A name is the
/// longest run of letters, digits and `_` (so `$1x` names group `1x`, which does not
/// exist, and expands to nothing); a malformed reference stays literal.
pub fn expand(
    re: &regex::Regex,
    template: &str,
    src: &str,
    locs: &regex::CaptureLocations,
) -> String {
    let mut out = String::with_capacity(template.len() + src.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_ref(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => Some(n),
            None => re.capture_names().position(|n| n == Some(name)),
        };
        if let Some((start, end)) = group.and_then(|g| locs.get(g)) {
            out.push_str(&src[start..end]);
        }
    }
    out.push_str(rest);
    out
}

/// The reference name at the start of `s` (after a `$`) and what follows it.
fn extract_ref(s: &str) -> Option<(&str, &str)> {
    let (body, brace) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len: usize = body
        .chars()
        .take_while(|&c| c == '_' || is_go_letter(c) || is_go_digit(c))
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let rest = &body[len..];
    if brace {
        let rest = rest.strip_prefix('}')?;
        return Some((name, rest));
    }
    Some((name, rest))
}

/// A group number as Go reads one: ASCII digits, no leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    let mut n = 0usize;
    for b in name.bytes() {
        if n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Go's `unicode.IsLetter`: general category L.
fn is_go_letter(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
    )
}

/// Go's `unicode.IsDigit`: general category Nd.
fn is_go_digit(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    get_general_category(c) == G::DecimalNumber
}

/// Go's `strings.ToLower`: per-character simple case mapping. Rust's full mapping
/// differs only for U+0130 (`İ` becomes `i̇`, two characters; Go gives `i`), and
/// `str::to_lowercase`'s final-sigma rule does not exist in Go.
pub fn go_lowercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) => out.push(l),
            _ => out.push(if c == '\u{130}' { 'i' } else { c }),
        }
    }
    out
}

/// Go's `strings.ToUpper`: per-character simple case mapping. Where Rust's full
/// mapping gives several characters (`ß` → `SS`), Go keeps the character, except the
/// Greek letters with ypogegrammeni, whose simple mapping is the titlecase form.
pub fn go_uppercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(simple_upper_special(c)),
        }
    }
    out
}

fn simple_upper_special(c: char) -> char {
    let u = c as u32;
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => u,
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// The `rules` export: the rules a relabel component applies, as a capsule other
/// components can take (upstream's `relabel.Rules`, a `[]*relabel.Config`).
#[derive(Clone, Debug, Default)]
pub struct Rules(pub Arc<[Rule]>);

impl Rules {
    pub fn to_value(&self) -> Value {
        Value::Capsule(Capsule::Host(Arc::new(self.clone())))
    }

    pub fn from_value(value: &Value) -> Result<Rules, ValueError> {
        match value {
            Value::Capsule(Capsule::Host(h)) => h
                .as_any()
                .downcast_ref::<Rules>()
                .cloned()
                .ok_or_else(|| ValueError::type_mismatch(value, "capsule(\"relabel.Rules\")")),
            _ => Err(ValueError::type_mismatch(
                value,
                "capsule(\"relabel.Rules\")",
            )),
        }
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Rules) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl HostValue for Rules {
    fn type_name(&self) -> &str {
        "relabel.Rules"
    }

    fn equals(&self, other: &dyn HostValue) -> bool {
        other
            .as_any()
            .downcast_ref::<Rules>()
            .is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl alloy_runtime::decode::FromValue for Rules {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        Rules::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(f: impl FnOnce(&mut RuleConfig)) -> Rule {
        let mut cfg = RuleConfig::default();
        f(&mut cfg);
        Rule::new(cfg).unwrap()
    }

    #[test]
    fn translation_keeps_go_meaning() {
        let cases = [
            (r"\d+", "[0-9]+"),
            (r"[\w.]", r"[0-9A-Za-z_.]"),
            (r"[^\D]", r"[^[^0-9]]"),
            (r"\Qa.b\E", r"a\.b"),
            (r"a{b", r"a\{b"),
            (r"\<", r"<"),
            (r"[[a]", r"[\[a]"),
            (r"[[:alpha:]]", r"[[:alpha:]]"),
            (r"\101", r"\x{41}"),
            (r"(?i)a", r"(?i)a"),
            (r"(?P<x>a)", r"(?P<x>a)"),
        ];
        for (go, rust) in cases {
            assert_eq!(translate(go).ok().as_deref(), Some(rust), "{go}");
        }
    }

    #[test]
    fn regex_errors_use_go_words() {
        let err = |s: &str| Regex::new(s).err().unwrap();
        assert_eq!(
            err("(abc"),
            "error parsing regexp: missing closing ): `^(?s:(abc)$`"
        );
        assert_eq!(
            err("abc)"),
            "error parsing regexp: unexpected ): `^(?s:abc))$`"
        );
        assert_eq!(
            err("*a"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            err("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            err(r"\e"),
            "error parsing regexp: invalid escape sequence: `\\e`"
        );
        assert_eq!(
            err("(?x)a"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"
        );
        assert_eq!(
            err("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(err("[a"), "error parsing regexp: missing closing ]: `[a)$`");
        assert!(Regex::new("a*?").is_ok());
        assert!(Regex::new(r"\bfoo\b").is_ok());
        // Go's `\d` is ASCII only.
        assert!(!Regex::new(r"\d").unwrap().is_match("٣"));
        // Dot matches newlines (Prometheus 3).
        assert!(Regex::new("a.b").unwrap().is_match("a\nb"));
    }

    #[test]
    fn translation_never_panics_on_short_patterns() {
        // Every 1-2 character pattern over the characters the translator treats
        // specially, and 3-character ones opening an escape, class, group or count:
        // each must compile or give an error, never panic.
        let alphabet: Vec<char> = r"\[](){}?*+|^$:-P<>1a0QEdx,~&i".chars().collect();
        let mut pattern = String::new();
        for a in &alphabet {
            for b in &alphabet {
                for len in 1..=2 {
                    pattern.clear();
                    pattern.extend([*a, *b].iter().take(len));
                    let _ = Regex::new(&pattern);
                }
                for open in ['\\', '[', '(', '{'] {
                    pattern.clear();
                    pattern.extend([open, *a, *b]);
                    let _ = Regex::new(&pattern);
                }
            }
        }
    }

    #[test]
    fn expansion_follows_go() {
        let re = regex::Regex::new("^(?s:(?P<first>a)(b)?(c))$").unwrap();
        let mut locs = re.capture_locations();
        re.captures_read(&mut locs, "ac").unwrap();
        let e = |t: &str| expand(&re, t, "ac", &locs);
        assert_eq!(e("$1-$2-$3"), "a--c");
        assert_eq!(e("${1}x"), "ax");
        assert_eq!(e("$1x"), "");
        assert_eq!(e("$first/${first}"), "a/a");
        assert_eq!(e("$$1"), "$1");
        assert_eq!(e("${1"), "${1");
        assert_eq!(e("$"), "$");
        assert_eq!(e("$01"), "");
        assert_eq!(e("$-"), "$-");
    }

    #[test]
    fn builder_merges_without_resorting_unchanged_sets() {
        let base = Labels::from_pairs([("a", "1"), ("c", "3")]);
        let mut lb = LabelBuilder::new(base.clone());
        lb.set("a".into(), "1".into());
        lb.del(&Arc::from("zzz"));
        assert!(lb.labels().ptr_eq(&base));
        lb.set("b".into(), "2".into());
        lb.del(&Arc::from("c"));
        assert_eq!(format!("{:?}", lb.labels()), r#"{a="1", b="2"}"#);
        lb.set("c".into(), "4".into());
        assert_eq!(format!("{:?}", lb.labels()), r#"{a="1", b="2", c="4"}"#);
    }

    #[test]
    fn case_mapping_is_gos_simple_mapping() {
        assert_eq!(go_uppercase("straße"), "STRAßE");
        assert_eq!(go_lowercase("İSTANBUL"), "istanbul");
        assert_eq!(go_lowercase("ΟΔΟΣ"), "οδοσ");
        assert_eq!(go_uppercase("\u{1F80}"), "\u{1F88}");
    }

    #[test]
    fn hashmod_uses_the_last_eight_digest_bytes() {
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; the last 8 bytes are
        // 0xedef654fccc4a4d8 = 17145033699835028696.
        assert_eq!(hashmod("foo", u64::MAX), 17145033699835028696);
        assert_eq!(hashmod("foo", 1000), 696);
    }

    #[test]
    fn labelmap_later_labels_win() {
        let r = rule(|c| {
            c.action = "labelmap".into();
            c.regex = "(?:x|y)_(.*)".into();
        });
        let out = process_labels(&Labels::from_pairs([("x_a", "1"), ("y_a", "2")]), &[r]).unwrap();
        assert_eq!(out.get("a"), Some("2"));
    }
}
