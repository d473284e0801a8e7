//! `ferroalloy eval EXPR`: evaluates one expression with the standard library in
//! scope and prints the value, in Alloy syntax or JSON. Upstream has no such command;
//! it is for trying an expression before it goes into a config.

use crate::cmd_validate::parse_stability;
use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer, Sources};
use alloy_runtime::component::Stability;
use alloy_syntax::ast::{Attribute, File, Ident, Stmt};
use alloy_syntax::eval::eval_expr;
use alloy_syntax::value::{render, to_json};
use alloy_syntax::Diagnostic;
use anyhow::{bail, Result};
use std::sync::Arc;

/// The name the expression gets in diagnostics.
const EXPR_NAME: &str = "<expr>";

/// How the value is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Alloy syntax, as a config would spell the value.
    Alloy,
    /// JSON; secrets print as the string `(secret)`.
    Json,
}

/// Flags and arguments of `eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The expression, e.g. 'string.format("%s-%d", "a", 1)'.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    expr: String,

    /// Print the value as Alloy syntax (default) or JSON.
    #[arg(long = "format", value_enum, default_value = "alloy")]
    format: OutputFormat,

    /// Minimum stability level of stdlib functions that may be used.
    #[arg(long = "stability.level", default_value = "generally-available", value_parser = parse_stability)]
    stability: Stability,
}

pub fn run(args: &EvalArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    let src = args.expr.as_str();
    let name: Arc<str> = Arc::from(EXPR_NAME);
    let sources: Sources = [(EXPR_NAME.to_string(), Arc::<str>::from(src))].into();
    let print = |diags: &[Diagnostic]| printer.eprint(diags, &sources);
    let (expr, diags) = alloy_syntax::parse_expression(EXPR_NAME, src);
    if diags.iter().any(Diagnostic::is_error) {
        print(&diags);
        bail!("could not parse the expression");
    }
    // The stdlib's lint passes work on files: wrap the expression as one attribute.
    let file = File {
        body: vec![Stmt::Attribute(Attribute {
            name: Ident { span: expr.span() },
            value: expr.clone(),
        })],
        comments: Vec::new(),
    };
    let not_shadowed = |_: &str| false;
    let mut notes = alloy_stdlib::deprecation_warnings(&file, src, &name, &not_shadowed);
    for used in alloy_stdlib::experimental_uses(&file, src, &not_shadowed) {
        if let Err(message) = Stability::Experimental.check_allowed(args.stability, used.name) {
            notes.push(Diagnostic::error(
                "alloy::stability",
                &name,
                used.span,
                message,
            ));
        }
    }
    if !notes.is_empty() {
        print(&notes);
        if notes.iter().any(Diagnostic::is_error) {
            bail!("could not evaluate the expression");
        }
    }
    match eval_expr(&expr, src, alloy_stdlib::stdlib()) {
        Ok(value) => {
            let text = match args.format {
                OutputFormat::Alloy => render(&value),
                OutputFormat::Json => to_json(&value).to_string(),
            };
            println!("{text}");
            Ok(())
        }
        Err(err) => {
            print(&[err.to_diagnostic(&name)]);
            bail!("could not evaluate the expression");
        }
    }
}
