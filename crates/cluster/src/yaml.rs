//! The YAML lists of `kubectl cluster-info dump --output yaml` (`nodes.yaml`, `<ns>/pods.yaml`,
//! ...): one document per file, the same typed List as the JSON form.

use crate::dump::{ListDoc, ListError, salvage};
use serde_saphyr::{Budget, Options};

/// Parser limits for dump files: large documents are normal (a namespace's pods), alias
/// expansion stays bounded (a billion-laughs file is refused, not expanded).
fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = Some(4 << 30);
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    budget.max_documents = 1;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// Parses one YAML list file; the same contract as the JSON reader (file-level errors name the
/// line, column and field; item-level ones are salvaged item by item).
pub(crate) fn parse_yaml_list<T>(bytes: &[u8]) -> Result<ListDoc<T>, ListError<T>>
where
    T: crate::dump::ListItem,
{
    let first_err = match serde_saphyr::from_slice_with_options::<ListDoc<T>>(bytes, options()) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    // The field path of the problem, for the message.
    let with_path =
        serde_saphyr::with_deserializer_from_slice_with_options(bytes, options(), |de| {
            Ok(serde_path_to_error::deserialize::<_, ListDoc<T>>(de)
                .map_err(|e| (e.path().to_string(), e.into_inner())))
        });
    let (path, err) = match with_path {
        Ok(Ok(doc)) => return Ok(doc),
        Ok(Err((path, err))) => (path, err),
        Err(err) => (String::new(), err),
    };
    let position = position(&err).or_else(|| position(&first_err));
    // Well-formed YAML with a badly shaped item: read item by item from the generic form.
    match serde_saphyr::from_slice_with_options::<serde_json::Value>(bytes, options()) {
        Ok(value) => salvage(
            value,
            &position.map(|p| format!(" ({p})")).unwrap_or_default(),
        ),
        Err(_) => Err(ListError::File(describe(&err, position, &path))),
    }
}

fn position(e: &serde_saphyr::Error) -> Option<String> {
    let loc = e.location()?;
    (loc.line() > 0).then(|| format!("line {} column {}", loc.line(), loc.column()))
}

fn describe(e: &serde_saphyr::Error, position: Option<String>, path: &str) -> String {
    let mut msg = String::from("invalid YAML");
    if let Some(p) = position {
        msg.push_str(" at ");
        msg.push_str(&p);
    }
    if !path.is_empty() && path != "." {
        msg.push_str(&format!(", field `{path}`"));
    }
    // The error's own text, on one line.
    let text = e.to_string();
    let text = text.lines().next().unwrap_or_default();
    msg.push_str(": ");
    msg.push_str(text);
    msg
}
