//! A YAML tree that remembers where every node starts, so the converter can point
//! its diagnostics at the exact key it could not convert (`FILE:LINE:COL`).
//!
//! yaml-rust2's event parser gives a mark per event; serde-based YAML crates give
//! positions only for errors, which is why the converter does not use serde_norway
//! (what `encoding.from_yaml` uses) here.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and the byte offset where it starts in the source.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub offset: u32,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar's text and whether it was quoted (a quoted `null` is a string).
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// Entries in source order (keys are scalars in every config we read).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether this is YAML's null (`~`, `null`, or nothing at all).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, false) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The scalar text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's shape, for error messages.
    pub fn shape(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a sequence",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error at a byte offset.
#[derive(Debug)]
pub struct YamlError {
    pub message: String,
    pub offset: u32,
}

/// Parses every document of `text` (the Agent's scraping-service API takes one
/// instance per document). An empty file yields no documents.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder {
        text,
        char_to_byte: (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect()),
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        message: e.info().to_string(),
        offset: builder.byte_offset(e.marker()),
    })?;
    Ok(builder.docs)
}

/// A container being filled: a sequence, or a mapping with a key waiting for its value.
enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

struct Builder<'a> {
    text: &'a str,
    /// Char index to byte offset, only for non-ASCII text (marks count chars).
    char_to_byte: Option<Vec<usize>>,
    stack: Vec<Open>,
    docs: Vec<Node>,
    /// Anchored nodes by anchor id, for aliases.
    anchors: Vec<(usize, Node)>,
}

impl Builder<'_> {
    fn byte_offset(&self, mark: &Marker) -> u32 {
        let index = mark.index();
        let byte = match &self.char_to_byte {
            Some(table) => table.get(index).copied().unwrap_or(self.text.len()),
            None => index.min(self.text.len()),
        };
        byte as u32
    }

    /// Hangs a finished node on its parent (or makes it a document).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let offset = self.byte_offset(&mark);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push(
                    Node {
                        kind: Kind::Scalar(text, quoted),
                        offset,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(
                Node {
                    kind: Kind::Seq(Vec::new()),
                    offset,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map(
                Node {
                    kind: Kind::Map(Vec::new()),
                    offset,
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let (node, anchor) = match open {
                        Open::Seq(node, anchor) | Open::Map(node, anchor, _) => (node, anchor),
                    };
                    self.push(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or(Node {
                        kind: Kind::Scalar(String::new(), false),
                        offset,
                    });
                self.push(node, 0);
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_offsets() {
        let text = "a: 1\nb:\n  - x\n  - 'y'\n";
        let docs = parse(text).unwrap();
        let Kind::Map(entries) = &docs[0].kind else {
            panic!("a mapping")
        };
        assert_eq!(entries[1].0.scalar(), Some("b"));
        assert_eq!(&text[entries[1].0.offset as usize..][..1], "b");
        let Kind::Seq(items) = &entries[1].1.kind else {
            panic!("a sequence")
        };
        assert_eq!(&text[items[1].offset as usize..][..3], "'y'");
        assert!(matches!(&items[1].kind, Kind::Scalar(s, true) if s == "y"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.offset > 0, "{err:?}");
    }
}
