//! Prints every diagnostic and token of the files named on the command line: used to
//! compare lexer/parser changes against the previous build over whole corpora.

fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let (src, parsed) = alloy_syntax::parser::parse_bytes(&path, &bytes);
        for d in &parsed.diagnostics {
            println!("{path}: {:?} {}", d.span, d.message);
        }
        let mut lexer = alloy_syntax::lexer::Lexer::new(&src);
        loop {
            let tok = lexer.next_token();
            println!("{:?} {:?}", tok.kind, tok.span);
            if tok.kind == alloy_syntax::token::Token::Eof {
                break;
            }
        }
    }
}
