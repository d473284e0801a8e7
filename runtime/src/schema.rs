//! Static descriptions of what a block body may contain (the Rust counterpart of
//! upstream's tagged Go structs), and the structural checks of LANGUAGE.md §6 that
//! need no evaluation: unknown and misplaced attributes and blocks, repeats, missing
//! required entries and label rules. `validate` runs them without starting anything;
//! decoding at run time runs the same checks first, so both report the same errors.

use alloy_syntax::ast::{Block, Body, Stmt};
use alloy_syntax::{Diagnostic, Span};
use std::collections::HashMap;
use std::sync::Arc;

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

    fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    fn block(&self, name: &str) -> Option<&BlockSpec> {
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
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

/// One kind of nested block a body may contain.
#[derive(Debug)]
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
pub fn check_body(
    file: &Arc<str>,
    src: &str,
    block: Option<&Block>,
    body: &Body,
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
    static MAP: Schema = Schema {
        label: LabelRule::Forbidden,
        attrs: &[],
        blocks: &[],
        free_form: true,
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
                schema: &MAP,
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
