//! Prints syntax-tree node sizes and, for a file, the heap the parsed tree holds by
//! allocation size (for memory work on the parser).
use alloy_syntax::ast::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static BUCKETS: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        BUCKETS[(l.size().max(1).ilog2() as usize).min(15)].fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        BUCKETS[(l.size().max(1).ilog2() as usize).min(15)].fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    println!(
        "Expr {} Stmt {} Block {} ObjectField {} AccessExpr {} BinaryExpr {} CallExpr {}",
        size_of::<Expr>(),
        size_of::<Stmt>(),
        size_of::<Block>(),
        size_of::<ObjectField>(),
        size_of::<AccessExpr>(),
        size_of::<BinaryExpr>(),
        size_of::<CallExpr>()
    );
    let Some(path) = std::env::args().nth(1) else {
        return;
    };
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let before = LIVE.load(Ordering::Relaxed);
    let snapshot: Vec<usize> = BUCKETS.iter().map(|b| b.load(Ordering::Relaxed)).collect();
    let parsed = alloy_syntax::parse_file("f", &src);
    let after = LIVE.load(Ordering::Relaxed);
    println!("source {} bytes, tree {} bytes", src.len(), after - before);
    for (i, b) in BUCKETS.iter().enumerate() {
        let d = b.load(Ordering::Relaxed) as isize - snapshot[i] as isize;
        if d > 0 {
            println!(
                "  allocs of {}..{} bytes: {d}",
                1usize << i,
                1usize << (i + 1)
            );
        }
    }
    drop(parsed);
}
