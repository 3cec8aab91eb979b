//! Dotted key paths (`network.allow[1]`) and the two lookups between them and places in the
//! TOML text: path → span for problems found after parsing, span → path for problems the
//! deserializer reports with a span only.

use std::fmt;
use std::ops::Range;

use toml_edit::{Item, Table, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root to a key or array element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    pub(crate) fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A node of the parsed document: a table-like thing, an array-like thing, or a leaf.
enum Node<'a> {
    Table(&'a Table),
    Inline(&'a toml_edit::InlineTable),
    Tables(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Leaf,
}

fn node_of_item(item: &Item) -> Node<'_> {
    match item {
        Item::Table(t) => Node::Table(t),
        Item::ArrayOfTables(a) => Node::Tables(a),
        Item::Value(v) => node_of_value(v),
        Item::None => Node::Leaf,
    }
}

fn node_of_value(v: &Value) -> Node<'_> {
    match v {
        Value::InlineTable(t) => Node::Inline(t),
        Value::Array(a) => Node::Array(a),
        _ => Node::Leaf,
    }
}

/// One step down: the child's own span (value or table header), the span of the key that
/// named it, and the child node.
type Step<'a> = (Option<Range<usize>>, Option<Range<usize>>, Node<'a>);

fn step<'a>(node: &Node<'a>, seg: &Seg) -> Option<Step<'a>> {
    match (node, seg) {
        (Node::Table(t), Seg::Key(k)) => {
            let (key, item) = t.get_key_value(k)?;
            Some((item.span(), key.span(), node_of_item(item)))
        }
        (Node::Inline(t), Seg::Key(k)) => {
            let (key, item) = t.get_key_value(k)?;
            Some((item.span(), key.span(), node_of_item(item)))
        }
        (Node::Tables(a), Seg::Index(i)) => {
            let t = a.get(*i)?;
            Some((t.span(), None, Node::Table(t)))
        }
        (Node::Array(a), Seg::Index(i)) => {
            let v = a.get(*i)?;
            Some((v.span(), None, node_of_value(v)))
        }
        _ => None,
    }
}

/// The span that best shows `path`: the value (or table header) it names, else its key, else
/// the nearest enclosing entry that has a span.
pub(crate) fn span_of(doc: &Table, path: &KeyPath) -> Option<Range<usize>> {
    let mut node = Node::Table(doc);
    let mut best = None;
    for seg in &path.0 {
        let Some((own, key, child)) = step(&node, seg) else {
            break;
        };
        if let Some(span) = own.or(key) {
            best = Some(span);
        }
        node = child;
    }
    best
}

/// The deepest path whose key or value span holds byte offset `pos`.
pub(crate) fn path_at(doc: &Table, pos: usize) -> KeyPath {
    let mut path = KeyPath::default();
    descend(&Node::Table(doc), pos, &mut path);
    path
}

fn holds(span: &Option<Range<usize>>, pos: usize) -> bool {
    span.as_ref()
        .is_some_and(|s| s.start <= pos && pos < s.end.max(s.start + 1))
}

fn descend(node: &Node<'_>, pos: usize, path: &mut KeyPath) -> bool {
    let children: Vec<Seg> = match node {
        Node::Table(t) => t.iter().map(|(k, _)| Seg::Key(k.to_string())).collect(),
        Node::Inline(t) => t.iter().map(|(k, _)| Seg::Key(k.to_string())).collect(),
        Node::Tables(a) => (0..a.len()).map(Seg::Index).collect(),
        Node::Array(a) => (0..a.len()).map(Seg::Index).collect(),
        Node::Leaf => return false,
    };
    for seg in children {
        let Some((own, key, child)) = step(node, &seg) else {
            continue;
        };
        if holds(&key, pos) {
            path.0.push(seg);
            return true;
        }
        // Children are searched even when the parent's span misses `pos`: a table's span ends
        // at its last plain value, so `[credential.source]` after `[[credential]]` lies
        // outside it, and implicit tables have no span at all.
        path.0.push(seg);
        if descend(&child, pos, path) || holds(&own, pos) {
            return true;
        }
        path.0.pop();
    }
    false
}

/// 1-based line and character column of byte offset `pos` in `text`.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
