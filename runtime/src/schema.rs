//! Static descriptions of what a block body may contain (the Rust counterpart of
//! upstream's tagged Go structs), and the structural checks of LANGUAGE.md §6 that
//! need no evaluation: unknown and misplaced attributes and blocks, repeats, missing
//! required entries and label rules. `validate` runs them without starting anything;
//! decoding at run time runs the same checks first, so both report the same errors.

use alloy_syntax::ast::{Block, Stmt};
use alloy_syntax::eval::{eval_expr, EmptyScope};
use alloy_syntax::value::{self, Target, ValueError};
use alloy_syntax::{Diagnostic, Span};
use std::collections::HashMap;
use std::sync::Arc;

/// An attribute entry of a static schema: `attr!("name", Ty::String)` or
/// `attr!("name", Ty::String, required)`.
#[macro_export]
macro_rules! attr {
    ($name:literal, $ty:expr) => {
        $crate::schema::Attr {
            name: $name,
            ty: $ty,
            required: false,
        }
    };
    ($name:literal, $ty:expr, required) => {
        $crate::schema::Attr {
            name: $name,
            ty: $ty,
            required: true,
        }
    };
}
pub use attr;

/// Diagnostic code for schema violations.
pub const CODE_SCHEMA: &str = "alloy::schema";

/// What a block body may contain.
#[derive(Debug)]
pub struct Schema {
    pub label: LabelRule,
    pub attrs: &'static [Attr],
    pub blocks: &'static [BlockSpec],
    /// A free-form body (`map[string]any` upstream): any attribute, no nested blocks.
    pub free_form: bool,
}

impl Schema {
    /// A schema with no entries; used for blocks such as `template` whose content
    /// is checked elsewhere, and as a starting point in tests.
    pub const EMPTY: Schema = Schema {
        label: LabelRule::Ignored,
        attrs: &[],
        blocks: &[],
        free_form: false,
    };

    /// The attribute called `name`, if the schema has one.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// The nested block called `name`, if the schema has one.
    pub fn block(&self, name: &str) -> Option<&BlockSpec> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

/// Whether a block using this schema takes a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelRule {
    /// Labels are the caller's business (component blocks: the label is the ID).
    Ignored,
    /// `block "x" does not support specifying labels`.
    Forbidden,
    /// `block "x" requires non-empty label`.
    Required,
}

/// One attribute a body may set.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

/// One kind of nested block a body may contain.
#[derive(Debug, Clone, Copy)]
pub struct BlockSpec {
    /// Full block name; may contain dots (`basic_auth`, `child.block`).
    pub name: &'static str,
    pub schema: &'static Schema,
    pub required: bool,
    pub repeat: Repeat,
}

/// How often a nested block may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Once,
    Many,
    Exactly(usize),
}

/// The type an attribute's value is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Any,
    String,
    Bool,
    Int,
    Uint,
    Float,
    /// A Go-style duration string such as `"1m30s"`.
    Duration,
    Secret,
    /// A string that may or may not be secret (`alloytypes.OptionalSecret`).
    OptionalSecret,
    Array(&'static Ty),
    Map(&'static Ty),
    /// A host value such as a metrics receiver, named for messages.
    Capsule(&'static str),
}

/// Checks `body` (of `block`, when given) against `schema`, appending every problem.
/// Attribute values are not looked at here.
pub fn check_body<'b>(
    file: &Arc<str>,
    src: &str,
    block: Option<&Block>,
    body: impl IntoIterator<Item = &'b Stmt>,
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(block) = block {
        check_label(file, src, block, schema, diags);
    }
    let mut seen_attrs: HashMap<&str, Span> = HashMap::new();
    let mut seen_blocks: HashMap<String, usize> = HashMap::new();
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => {
                let name = attr.name.text(src);
                let span = attr.span();
                if schema.free_form {
                    // Any attribute goes; repeats still do not.
                } else if schema.attr(name).is_none() {
                    let message = if schema.block(name).is_some() {
                        format!("{name:?} must be a block, but is used as an attribute")
                    } else {
                        format!("unrecognized attribute name {name:?}")
                    };
                    diags.push(Diagnostic::error(CODE_SCHEMA, file, span, message));
                    continue;
                }
                if seen_attrs.insert(name, span).is_some() {
                    diags.push(Diagnostic::error(
                        CODE_SCHEMA,
                        file,
                        span,
                        format!("attribute {name:?} may only be provided once"),
                    ));
                }
            }
            Stmt::Block(inner) => {
                let name = inner.name_text(src);
                let span = inner.span();
                if schema.free_form {
                    diags.push(Diagnostic::error(
                        CODE_SCHEMA,
                        file,
                        span,
                        "nested blocks not supported here",
                    ));
                    continue;
                }
                let Some(spec) = schema.block(&name) else {
                    let message = if schema.attr(&name).is_some() {
                        format!("{name:?} must be an attribute, but is used as a block")
                    } else {
                        format!("unrecognized block name {name:?}")
                    };
                    diags.push(Diagnostic::error(CODE_SCHEMA, file, span, message));
                    continue;
                };
                let count = seen_blocks.entry(name.clone()).or_default();
                *count += 1;
                if *count == 2 && spec.repeat == Repeat::Once {
                    diags.push(Diagnostic::error(
                        CODE_SCHEMA,
                        file,
                        span,
                        format!("block {name:?} may only be specified once"),
                    ));
                }
                check_body(file, src, Some(inner), &inner.body, spec.schema, diags);
            }
        }
    }
    // Where upstream reports missing entries: the whole enclosing block.
    let whole = block.map(Block::span).unwrap_or_default();
    for attr in schema.attrs.iter().filter(|a| a.required) {
        if !seen_attrs.contains_key(attr.name) {
            diags.push(Diagnostic::error(
                CODE_SCHEMA,
                file,
                whole,
                format!("missing required attribute {:?}", attr.name),
            ));
        }
    }
    for spec in schema.blocks {
        let count = seen_blocks.get(spec.name).copied().unwrap_or(0);
        if spec.required && count == 0 {
            diags.push(Diagnostic::error(
                CODE_SCHEMA,
                file,
                whole,
                format!("missing required block {:?}", spec.name),
            ));
        } else if let Repeat::Exactly(n) = spec.repeat {
            if count != n && count != 0 {
                diags.push(Diagnostic::error(
                    CODE_SCHEMA,
                    file,
                    whole,
                    format!(
                        "block {:?} must be specified exactly {n} times, but was specified {count} times",
                        spec.name
                    ),
                ));
            }
        }
    }
}

fn check_label(
    file: &Arc<str>,
    src: &str,
    block: &Block,
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) {
    let name = block.name_text(src);
    let span = block.name_span();
    let has_label = block.label(src).is_some();
    let message = match schema.label {
        LabelRule::Ignored => return,
        LabelRule::Forbidden if block.label.is_some() && schema.free_form => {
            format!("block {name:?} requires empty label")
        }
        LabelRule::Forbidden if block.label.is_some() => {
            format!("block {name:?} does not support specifying labels")
        }
        LabelRule::Required if !has_label => format!("block {name:?} requires non-empty label"),
        _ => return,
    };
    diags.push(Diagnostic::error(CODE_SCHEMA, file, span, message));
}

/// Checks attribute values that are known without evaluation (no references) against
/// their declared types: `forward_to = "wrong"` gives `expected array, got string` at
/// the value. Upstream only does this for literals; constant expressions such as
/// `"1" + "0s"` are checked too, since their value is just as certain.
pub fn check_values<'b>(
    file: &Arc<str>,
    src: &str,
    body: impl IntoIterator<Item = &'b Stmt>,
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => {
                let Some(spec) = schema.attr(attr.name.text(src)) else {
                    continue;
                };
                let mut refs = Vec::new();
                crate::refs::expr_traversals(&attr.value, &mut refs);
                if !refs.is_empty() {
                    continue;
                }
                // Evaluation errors of constant expressions are the evaluator's to
                // report at run time with full decoration; only types are checked here.
                let Ok(v) = eval_expr(&attr.value, src, &EmptyScope) else {
                    continue;
                };
                if let Some(message) = type_problem(&v, spec.ty) {
                    diags.push(Diagnostic::error(
                        CODE_SCHEMA,
                        file,
                        attr.value.span(),
                        message,
                    ));
                }
            }
            Stmt::Block(inner) => {
                if let Some(spec) = schema.block(&inner.name_text(src)) {
                    check_values(file, src, &inner.body, spec.schema, diags);
                }
            }
        }
    }
}

/// Why `v` does not fit `ty`, in the validator's words.
fn type_problem(v: &value::Value, ty: Ty) -> Option<String> {
    if let Ty::Duration = ty {
        let text = match value::to_string_target(v) {
            Ok(text) => text,
            Err(err) => return Some(type_message(&err)),
        };
        return crate::duration::GoDuration::parse(&text).err();
    }
    let target = target_of(ty)?;
    value::decode(v, &target).err().map(|e| type_message(&e))
}

fn type_message(err: &ValueError) -> String {
    match err {
        ValueError::Type {
            expected, actual, ..
        } => format!("expected {expected}, got {actual}"),
        ValueError::Element { inner, .. }
        | ValueError::Field { inner, .. }
        | ValueError::Arg { inner, .. } => type_message(inner),
        other => other.to_string(),
    }
}

/// The value-model target for a schema type; `None` where nothing can be checked
/// without the host (capsules) or where anything goes.
fn target_of(ty: Ty) -> Option<Target> {
    Some(match ty {
        Ty::Any | Ty::Capsule(_) | Ty::Duration => return None,
        Ty::String => Target::String,
        Ty::Bool => Target::Bool,
        Ty::Int => Target::Int(64),
        Ty::Uint => Target::Uint(64),
        Ty::Float => Target::Float64,
        Ty::Secret => Target::Secret,
        Ty::OptionalSecret => Target::OptionalSecret,
        Ty::Array(elem) => Target::Array(Box::new(target_of(*elem).unwrap_or(Target::Any))),
        Ty::Map(elem) => Target::Map(Box::new(target_of(*elem).unwrap_or(Target::Any))),
    })
}

/// An unlabelled block that takes any attributes (a map written as a block).
pub static FREE_FORM: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[],
    blocks: &[],
    free_form: true,
};

/// A classic module's `arguments` block: each attribute is one module argument.
pub const ARGUMENTS_BLOCK: BlockSpec = BlockSpec {
    name: "arguments",
    schema: &FREE_FORM,
    required: false,
    repeat: Repeat::Once,
};

const CLIENT_BLOCK: BlockSpec = BlockSpec {
    name: "client",
    schema: &HTTP_CLIENT,
    required: false,
    repeat: Repeat::Once,
};

// Module sources (COMPONENTS.md §1.1–1.3, §1.8). Every one accepts an `arguments`
// block: with it, the fetched content runs as a classic module (issue 4).

const FILE_ATTRS: [Attr; 3] = [
    attr!("filename", Ty::String, required),
    attr!("detector", Ty::String),
    attr!("poll_frequency", Ty::Duration),
];

const HTTP_ATTRS: [Attr; 6] = [
    attr!("url", Ty::String, required),
    attr!("method", Ty::String),
    attr!("headers", Ty::Map(&Ty::String)),
    attr!("body", Ty::String),
    attr!("poll_frequency", Ty::Duration),
    attr!("poll_timeout", Ty::Duration),
];

pub static IMPORT_FILE: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &FILE_ATTRS,
    blocks: &[ARGUMENTS_BLOCK],
    free_form: false,
};

pub static IMPORT_STRING: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[attr!("content", Ty::OptionalSecret, required)],
    blocks: &[ARGUMENTS_BLOCK],
    free_form: false,
};

pub static IMPORT_HTTP: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &HTTP_ATTRS,
    blocks: &[CLIENT_BLOCK, ARGUMENTS_BLOCK],
    free_form: false,
};

/// `module.file`: every `local.file` attribute.
pub static MODULE_FILE: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        FILE_ATTRS[0],
        FILE_ATTRS[1],
        FILE_ATTRS[2],
        attr!("is_secret", Ty::Bool),
    ],
    blocks: &[ARGUMENTS_BLOCK],
    free_form: false,
};

/// `module.http`: every `remote.http` attribute.
pub static MODULE_HTTP: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        HTTP_ATTRS[0],
        HTTP_ATTRS[1],
        HTTP_ATTRS[2],
        HTTP_ATTRS[3],
        HTTP_ATTRS[4],
        HTTP_ATTRS[5],
        attr!("is_secret", Ty::Bool),
    ],
    blocks: &[CLIENT_BLOCK, ARGUMENTS_BLOCK],
    free_form: false,
};

/// The shared HTTP client settings (COMPONENTS.md conventions), as a `client` block.
pub static HTTP_CLIENT_BLOCKS: &[BlockSpec] = &[CLIENT_BLOCK];

/// The shared HTTP client's attributes, for components that take them at the top
/// level ("squashed", as `discovery.http` and `prometheus.scrape` do).
pub const HTTP_CLIENT_ATTRS: [Attr; 9] = [
    attr!("bearer_token", Ty::Secret),
    attr!("bearer_token_file", Ty::String),
    attr!("enable_http2", Ty::Bool),
    attr!("follow_redirects", Ty::Bool),
    attr!("proxy_url", Ty::String),
    attr!("no_proxy", Ty::String),
    attr!("proxy_from_environment", Ty::Bool),
    attr!("proxy_connect_header", Ty::Map(&Ty::Array(&Ty::Secret))),
    attr!("http_headers", Ty::Map(&Ty::Array(&Ty::Secret))),
];

/// The shared HTTP client's blocks (auth and TLS).
pub const HTTP_CLIENT_BLOCK_SPECS: [BlockSpec; 4] = [
    BlockSpec {
        name: "basic_auth",
        schema: &BASIC_AUTH,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "authorization",
        schema: &AUTHORIZATION,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "oauth2",
        schema: &OAUTH2,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "tls_config",
        schema: &TLS_CONFIG,
        required: false,
        repeat: Repeat::Once,
    },
];

/// The shared HTTP client: auth, TLS and proxy settings.
pub static HTTP_CLIENT: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &HTTP_CLIENT_ATTRS,
    blocks: &HTTP_CLIENT_BLOCK_SPECS,
    free_form: false,
};

/// `a` followed by `b`, for building static schemas from shared parts. `N` must be
/// the sum of the lengths (checked at compile time when used in a const).
pub const fn concat<T: Copy, const N: usize>(a: &[T], b: &[T]) -> [T; N] {
    assert!(
        a.len() + b.len() == N,
        "concat: N must be the sum of the lengths"
    );
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

pub static BASIC_AUTH: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("username", Ty::String),
        attr!("password", Ty::Secret),
        attr!("password_file", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

pub static AUTHORIZATION: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("type", Ty::String),
        attr!("credentials", Ty::Secret),
        attr!("credentials_file", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

pub static TLS_CONFIG: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("ca_pem", Ty::String),
        attr!("ca_file", Ty::String),
        attr!("cert_pem", Ty::String),
        attr!("cert_file", Ty::String),
        attr!("key_pem", Ty::Secret),
        attr!("key_file", Ty::String),
        attr!("server_name", Ty::String),
        attr!("insecure_skip_verify", Ty::Bool),
        attr!("min_version", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

pub static OAUTH2: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("client_id", Ty::String),
        attr!("client_secret", Ty::Secret),
        attr!("client_secret_file", Ty::String),
        attr!("scopes", Ty::Array(&Ty::String)),
        attr!("token_url", Ty::String),
        attr!("endpoint_params", Ty::Map(&Ty::String)),
        attr!("proxy_url", Ty::String),
        attr!("no_proxy", Ty::String),
        attr!("proxy_from_environment", Ty::Bool),
    ],
    blocks: &[BlockSpec {
        name: "tls_config",
        schema: &TLS_CONFIG,
        required: false,
        repeat: Repeat::Once,
    }],
    free_form: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    static CHILD: Schema = Schema {
        label: LabelRule::Forbidden,
        attrs: &[Attr {
            name: "attr",
            ty: Ty::Bool,
            required: false,
        }],
        blocks: &[],
        free_form: false,
    };
    static ROOT: Schema = Schema {
        label: LabelRule::Ignored,
        attrs: &[
            Attr {
                name: "number",
                ty: Ty::Int,
                required: true,
            },
            Attr {
                name: "string",
                ty: Ty::String,
                required: true,
            },
        ],
        blocks: &[
            BlockSpec {
                name: "child.block",
                schema: &CHILD,
                required: true,
                repeat: Repeat::Once,
            },
            BlockSpec {
                name: "settings",
                schema: &FREE_FORM,
                required: false,
                repeat: Repeat::Once,
            },
        ],
        free_form: false,
    };

    fn check(src: &str) -> Vec<String> {
        let parsed = alloy_syntax::parse_file("t", src);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let file: Arc<str> = Arc::from("t");
        let mut diags = Vec::new();
        for stmt in &parsed.file.body {
            if let Stmt::Block(block) = stmt {
                check_body(&file, src, Some(block), &block.body, &ROOT, &mut diags);
            }
        }
        let index = alloy_syntax::diag::LineIndex::new(src);
        diags.iter().map(|d| d.one_line(&index)).collect()
    }

    #[test]
    fn reports_unknown_misplaced_repeated_and_missing_entries() {
        let src = "c \"x\" {\n\tnumber = 1\n\tnumber = 2\n\tbogus = 3\n\tsettings = 4\n\tstring {}\n\tchild.block \"l\" {}\n\tchild.block { nope = 1 }\n\tsettings \"l\" { inner {} }\n}";
        assert_eq!(
            check(src),
            [
                "t:3:2: attribute \"number\" may only be provided once",
                "t:4:2: unrecognized attribute name \"bogus\"",
                "t:5:2: \"settings\" must be a block, but is used as an attribute",
                "t:6:2: \"string\" must be an attribute, but is used as a block",
                "t:7:2: block \"child.block\" does not support specifying labels",
                "t:8:2: block \"child.block\" may only be specified once",
                "t:8:16: unrecognized attribute name \"nope\"",
                "t:9:2: block \"settings\" requires empty label",
                "t:9:17: nested blocks not supported here",
                "t:1:1: missing required attribute \"string\"",
            ]
        );
    }

    #[test]
    fn missing_required_block_points_at_the_enclosing_block() {
        assert_eq!(
            check("c \"x\" {\n\tnumber = 1\n\tstring = \"\"\n}"),
            ["t:1:1: missing required block \"child.block\""]
        );
    }
}
