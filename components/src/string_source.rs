//! The source behind `import.string` and `module.string`: exports its `content`
//! argument as it is, so the runtime (re)loads the module whenever the value changes.

use alloy_runtime::component::{Arguments, BoxFuture, Component, ExportsSink, Options};
use alloy_runtime::decode::{Decoder, OptionalSecret};
use alloy_runtime::schema::{Schema, IMPORT_STRING};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq)]
pub struct StringSourceArgs {
    pub content: OptionalSecret,
}

impl Arguments for StringSourceArgs {
    fn schema() -> &'static Schema {
        &IMPORT_STRING
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        Ok(StringSourceArgs {
            content: d.required("content")?,
        })
    }
}

/// The running source: nothing to poll, it republishes on every change.
pub struct StringSource {
    exports: ExportsSink,
}

fn publish(exports: &ExportsSink, args: &StringSourceArgs) {
    let content = Value::optional_secret(args.content.value.clone(), args.content.is_secret);
    exports(Value::object(BTreeMap::from([(
        "content".to_string(),
        content,
    )])));
}

impl Component for StringSource {
    type Arguments = StringSourceArgs;

    fn build(opts: Options, args: StringSourceArgs) -> Result<Self, String> {
        publish(&opts.exports, &args);
        Ok(StringSource {
            exports: opts.exports,
        })
    }

    fn update(&self, args: StringSourceArgs) -> Result<(), String> {
        publish(&self.exports, &args);
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            Ok(())
        })
    }
}
