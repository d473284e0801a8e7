//! Finds uses of deprecated and experimental standard-library functions in a syntax
//! tree, for the warnings and stability errors of `alloy validate` (§5.3, §10).

use std::sync::Arc;

use alloy_syntax::ast::{Body, Expr, File, Stmt};
use alloy_syntax::{Diagnostic, Span};

use crate::{deprecated_alias, is_experimental, DEPRECATION_MESSAGE};

/// Diagnostic code of the deprecation warning.
pub const DEPRECATED_CODE: &str = "alloy::stdlib::deprecated";
/// Diagnostic code of the stability error.
pub const EXPERIMENTAL_CODE: &str = "alloy::stdlib::experimental";

/// A warning at each identifier that resolves to a deprecated alias, in source order.
/// `shadowed` tells which names the evaluation scope defines itself (a component or
/// declare named `env` hides the alias, §4.8).
pub fn deprecation_warnings(
    file: &File,
    src: &str,
    file_name: &Arc<str>,
    shadowed: &dyn Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk_body(&file.body, &mut |expr| {
        deprecated_ident(expr, src, file_name, shadowed, &mut out);
    });
    out
}

/// [`deprecation_warnings`] for one expression.
pub fn expr_deprecation_warnings(
    expr: &Expr,
    src: &str,
    file_name: &Arc<str>,
    shadowed: &dyn Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk_expr(expr, &mut |e| {
        deprecated_ident(e, src, file_name, shadowed, &mut out)
    });
    out
}

fn deprecated_ident(
    expr: &Expr,
    src: &str,
    file_name: &Arc<str>,
    shadowed: &dyn Fn(&str) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    if let Expr::Ident(ident) = expr {
        let name = ident.text(src);
        if deprecated_alias(name).is_some() && !shadowed(name) {
            out.push(Diagnostic::warning(
                DEPRECATED_CODE,
                file_name,
                ident.span,
                DEPRECATION_MESSAGE,
            ));
        }
    }
}

/// One reference to an experimental function: `array.combine_maps` spans both names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentalUse {
    pub span: Span,
    pub name: &'static str,
}

impl ExperimentalUse {
    /// The error `alloy validate` reports when the stability level `min_level` (such
    /// as `generally-available`) is above experimental.
    pub fn diagnostic(&self, file_name: &Arc<str>, min_level: &str) -> Diagnostic {
        Diagnostic::error(
            EXPERIMENTAL_CODE,
            file_name,
            self.span,
            format!(
                "{} is at stability level \"experimental\", which is below the minimum allowed stability level \"{min_level}\". Use --stability.level command-line flag to enable \"experimental\" features",
                self.name
            ),
        )
    }
}

/// Every `namespace.function` access naming an experimental function, in source
/// order, unless the scope shadows the namespace.
pub fn experimental_uses(
    file: &File,
    src: &str,
    shadowed: &dyn Fn(&str) -> bool,
) -> Vec<ExperimentalUse> {
    let mut out = Vec::new();
    walk_body(&file.body, &mut |expr| {
        if let Expr::Access(access) = expr {
            if let Expr::Ident(ns) = &access.value {
                let ns_text = ns.text(src);
                let full = format!("{ns_text}.{}", access.name.text(src));
                if is_experimental(&full) && !shadowed(ns_text) {
                    if let Some(name) = crate::EXPERIMENTAL.iter().find(|n| **n == full) {
                        out.push(ExperimentalUse {
                            span: expr.span(),
                            name,
                        });
                    }
                }
            }
        }
    });
    out
}

fn walk_body(body: &Body, visit: &mut dyn FnMut(&Expr)) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => walk_expr(&attr.value, visit),
            Stmt::Block(block) => walk_body(&block.body, visit),
        }
    }
}

/// Visits `expr` and every expression inside it, parents first, in source order.
pub fn walk_expr(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    visit(expr);
    match expr {
        Expr::Ident(_) | Expr::Literal(_) => {}
        Expr::Array(a) => a.elements.iter().for_each(|e| walk_expr(e, visit)),
        Expr::Object(o) => o.fields.iter().for_each(|f| walk_expr(&f.value, visit)),
        Expr::Access(a) => walk_expr(&a.value, visit),
        Expr::Index(i) => {
            walk_expr(&i.value, visit);
            walk_expr(&i.index, visit);
        }
        Expr::Call(c) => {
            walk_expr(&c.value, visit);
            c.args.iter().for_each(|e| walk_expr(e, visit));
        }
        Expr::Unary(u) => walk_expr(&u.value, visit),
        Expr::Binary(b) => {
            walk_expr(&b.left, visit);
            walk_expr(&b.right, visit);
        }
        Expr::Paren(p) => walk_expr(&p.inner, visit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_deprecated_and_experimental_uses() {
        let src = "a { x = env(\"A\") }\ny = [format(\"%d\", 1), sys.env(\"B\"), array.combine_maps([], [], [\"a\"])]\n";
        let parsed = alloy_syntax::parse_file("main.alloy", src);
        let name: Arc<str> = Arc::from("main.alloy");
        let none = |_: &str| false;
        let warnings = deprecation_warnings(&parsed.file, src, &name, &none);
        let spans: Vec<&str> = warnings.iter().map(|d| &src[d.span.range()]).collect();
        assert_eq!(spans, ["env", "format"]);
        assert_eq!(warnings[0].message, DEPRECATION_MESSAGE);
        let shadow_env = |n: &str| n == "env";
        assert_eq!(
            deprecation_warnings(&parsed.file, src, &name, &shadow_env).len(),
            1
        );
        let (expr, _) = alloy_syntax::parse_expression("", "trim(join([], \"\"), x.env)");
        let spans: Vec<_> =
            expr_deprecation_warnings(&expr, "trim(join([], \"\"), x.env)", &name, &none)
                .into_iter()
                .map(|d| d.span)
                .collect();
        assert_eq!(spans, [Span::new(0, 4), Span::new(5, 9)]);
        let uses = experimental_uses(&parsed.file, src, &none);
        assert_eq!(uses.len(), 1);
        assert_eq!(&src[uses[0].span.range()], "array.combine_maps");
    }
}
