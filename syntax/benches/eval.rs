//! Expression evaluation speed: every attribute value of a generated ~1 MB config,
//! evaluated against a small scope that stands in for the component graph and the
//! two stdlib functions the generator uses. Reports time per expression.

use alloy_syntax::ast::{Body, Expr, Stmt};
use alloy_syntax::eval::{eval_expr, Scope};
use alloy_syntax::value::{Function, Value};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

// The `ferroalloy` binary runs on mimalloc; measure with the allocator it ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Component exports referenced by the config, as nested objects whose leaves are
/// empty arrays, plus the stdlib functions the generator uses: `sys.env` (always
/// `""`), `coalesce` (first non-empty argument), `array.concat` and a `string.format`
/// that substitutes each `%` verb with its argument's decimal or string form.
struct BenchScope {
    vars: BTreeMap<String, Value>,
}

impl Scope for BenchScope {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.vars.get(name).cloned()
    }
}

fn collect_exprs<'a>(body: &'a Body, out: &mut Vec<&'a Expr>) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(a) => out.push(&a.value),
            Stmt::Block(b) => collect_exprs(&b.body, out),
        }
    }
}

/// Records every dotted reference `a.b.c` (an access chain rooted at an identifier).
fn collect_refs(expr: &Expr, src: &str, out: &mut Vec<Vec<String>>) {
    fn chain(expr: &Expr, src: &str) -> Option<Vec<String>> {
        match expr {
            Expr::Ident(i) => Some(vec![i.text(src).to_string()]),
            Expr::Access(a) => {
                let mut c = chain(&a.value, src)?;
                c.push(a.name.text(src).to_string());
                Some(c)
            }
            _ => None,
        }
    }
    match expr {
        Expr::Access(_) | Expr::Ident(_) => out.extend(chain(expr, src)),
        Expr::Array(a) => a.elements.iter().for_each(|e| collect_refs(e, src, out)),
        Expr::Object(o) => o
            .fields
            .iter()
            .for_each(|f| collect_refs(&f.value, src, out)),
        Expr::Index(i) => {
            collect_refs(&i.value, src, out);
            collect_refs(&i.index, src, out);
        }
        Expr::Call(c) => {
            collect_refs(&c.value, src, out);
            c.args.iter().for_each(|e| collect_refs(e, src, out));
        }
        Expr::Unary(u) => collect_refs(&u.value, src, out),
        Expr::Binary(b) => {
            collect_refs(&b.left, src, out);
            collect_refs(&b.right, src, out);
        }
        Expr::Paren(p) => collect_refs(&p.inner, src, out),
        Expr::Literal(_) => {}
    }
}

fn insert_path(map: &mut BTreeMap<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.entry(first.clone())
            .or_insert_with(|| Value::array(Vec::new()));
        return;
    }
    let mut inner = match map.get(first) {
        Some(Value::Object(o)) => (**o).clone(),
        _ => BTreeMap::new(),
    };
    insert_path(&mut inner, rest);
    map.insert(first.clone(), Value::object(inner));
}

fn bench_scope(exprs: &[&Expr], src: &str) -> BenchScope {
    let mut refs = Vec::new();
    for e in exprs {
        collect_refs(e, src, &mut refs);
    }
    let mut vars = BTreeMap::new();
    for r in refs
        .iter()
        .filter(|r| !["sys", "coalesce", "array", "string"].contains(&r[0].as_str()))
    {
        insert_path(&mut vars, r);
    }
    let mut sys = BTreeMap::new();
    sys.insert(
        "env".to_string(),
        Value::Function(Function::new("sys.env", |_| Ok(Value::string("")))),
    );
    vars.insert("sys".to_string(), Value::object(sys));
    let mut array = BTreeMap::new();
    array.insert(
        "concat".to_string(),
        Value::Function(Function::new("array.concat", |args| {
            let mut out = Vec::new();
            for (i, a) in args.iter().enumerate() {
                let items = alloy_syntax::value::to_array_target(a).map_err(|e| e.in_arg(i))?;
                out.extend(items.iter().cloned());
            }
            Ok(Value::array(out))
        })),
    );
    vars.insert("array".to_string(), Value::object(array));
    let mut string = BTreeMap::new();
    string.insert(
        "format".to_string(),
        Value::Function(Function::new("string.format", |args| {
            let fmt = alloy_syntax::value::to_string_target(args.first().unwrap_or(&Value::Null))
                .map_err(|e| e.in_arg(0))?;
            let mut out = String::with_capacity(fmt.len() + 16);
            let mut rest = args.iter().skip(1);
            let mut chars = fmt.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                chars.next();
                if let Some(arg) = rest.next() {
                    out.push_str(&alloy_syntax::value::to_string_target(arg).unwrap_or_default());
                }
            }
            Ok(Value::string(out))
        })),
    );
    vars.insert("string".to_string(), Value::object(string));
    vars.insert(
        "coalesce".to_string(),
        Value::Function(Function::new("coalesce", |args| {
            let empty = |v: &Value| v.is_null() || v.as_str() == Some("");
            Ok(args
                .iter()
                .find(|v| !empty(v))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null))
        })),
    );
    BenchScope { vars }
}

fn bench(c: &mut Criterion) {
    let Some(src) = alloy_testdata::generated_config(1_000_000) else {
        eprintln!("skipping: could not generate a 1MB config");
        return;
    };
    let parsed = alloy_syntax::parse_file("bench.alloy", &src);
    let mut exprs = Vec::new();
    collect_exprs(&parsed.file.body, &mut exprs);
    let scope = bench_scope(&exprs, &src);
    let failures = exprs
        .iter()
        .filter(|e| eval_expr(e, &src, &scope).is_err())
        .count();

    // A direct measurement, so the report can say "ns per expression" plainly.
    let rounds = 5;
    let start = Instant::now();
    for _ in 0..rounds {
        for e in &exprs {
            let _ = black_box(eval_expr(e, &src, &scope));
        }
    }
    let per_expr = start.elapsed().as_nanos() as f64 / (rounds * exprs.len()) as f64;
    eprintln!(
        "eval: {} attribute expressions ({failures} errors), {per_expr:.0} ns per expression",
        exprs.len()
    );

    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.throughput(Throughput::Elements(exprs.len() as u64));
    group.bench_function("attributes/1MB", |b| {
        b.iter(|| {
            for e in &exprs {
                let _ = black_box(eval_expr(e, &src, &scope));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
