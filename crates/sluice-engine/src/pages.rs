//! Reading every page of an operation that pages (`pages: all`, a number, or `max_items:`): the
//! connector's `pagination` says which parameter moves on (a cursor from the answer, an offset,
//! a page number, or the next page's URL), where the items are and when they end. Each page is
//! one API call with its own retries and rate-limit turn; each finished page is recorded, so a
//! resumed run goes on from the next page instead of the first.

use serde_json::{Map, Value, json};
use sluice_model::connector::{Pagination, PaginationKind};

use crate::call::{self, Call, CallSettings, Trace};
use crate::error::{ErrorKind, StepError};
use crate::exec::{ExecStep, Paging};
use crate::http;
use crate::journal::RunJournal;
use crate::runtime::{Endpoint, Runtime};

/// The most pages one step reads, whatever the API says (a cursor that never ends).
const MAX_PAGES: u32 = 100_000;

/// One step's paged reading: what it calls, and how far it reads.
pub(crate) struct Paged<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) step: &'a ExecStep,
    pub(crate) item: Option<usize>,
    pub(crate) operation: &'a sluice_model::Operation,
    pub(crate) endpoint: Endpoint<'a>,
    pub(crate) settings: CallSettings,
    pub(crate) paging: &'a Paging,
    /// The run's journal (every HTTP attempt is recorded there).
    pub(crate) journal: Option<&'a RunJournal>,
    /// Whether pages are recorded and resumed (the run's own steps, outside `for_each`).
    pub(crate) record: bool,
    /// Where the items go as pages arrive (a `for_each` step that reads them), instead of
    /// into the answer: nothing holds them all.
    pub(crate) sink: Option<tokio::sync::mpsc::Sender<Streamed>>,
    pub(crate) prefix: &'a str,
}

/// What a paged step sends the `for_each` step reading its items.
#[derive(Debug)]
pub(crate) enum Streamed {
    /// The next item.
    Item(Value),
    /// Every item has been sent (the stream closing without it means the read failed).
    End,
}

/// Where the next page is.
#[derive(Clone, Debug, PartialEq)]
enum Next {
    /// The same operation with these parameters.
    Params(Map<String, Value>),
    /// This URL (`next_url`).
    Url(String),
}

impl Next {
    fn to_json(&self) -> Value {
        match self {
            Next::Params(p) => json!({ "params": p }),
            Next::Url(u) => json!({ "url": u }),
        }
    }

    fn from_json(v: &Value) -> Option<Next> {
        if let Some(p) = v.get("params").and_then(Value::as_object) {
            return Some(Next::Params(p.clone()));
        }
        v.get("url")
            .and_then(Value::as_str)
            .map(|u| Next::Url(u.to_string()))
    }
}

/// What has been read so far.
struct Progress {
    /// The items kept for the answer (none when they go to a sink).
    items: Vec<Value>,
    /// How many items have been read.
    count: usize,
    /// The last answer, without its items.
    answer: Value,
    /// Pages read (recorded or fetched).
    pages: u32,
    /// Where the next page is; `None` once there are no more.
    next: Option<Next>,
    attempts: u32,
}

/// Reads the pages and returns the last answer with every page's items in its list, and the
/// most attempts any page took.
pub(crate) async fn read(
    paged: &Paged<'_>,
    params: Map<String, Value>,
) -> Result<(Value, u32), (StepError, u32)> {
    let spec = paged
        .operation
        .pagination
        .as_ref()
        .ok_or_else(|| (unusable("the operation declares no `pagination`"), 0))?;
    let items_path = spec.items_path().ok_or_else(|| {
        (
            unusable("its `items` is not a plain path like `$.contacts`"),
            0,
        )
    })?;
    // A flow that leaves the page size out gets the operation's default page size.
    let default_limit = spec
        .limit_param
        .as_ref()
        .and_then(|l| paged.operation.params.get(l))
        .and_then(|p| p.default.as_ref())
        .and_then(number);
    let (mut progress, replayed) = paged.recorded().unwrap_or_else(|| {
        let fresh = Progress {
            items: Vec::new(),
            count: 0,
            answer: Value::Null,
            pages: 0,
            next: Some(Next::Params(params)),
            attempts: 0,
        };
        (fresh, Vec::new())
    });
    if !paged.deliver(&mut progress, replayed).await {
        progress.next = None;
    }
    while let Some(next) = progress.next.take() {
        if paged.done(&progress) {
            break;
        }
        let (mut answer, attempts) = paged.fetch(&next).await?;
        progress.attempts = progress.attempts.max(attempts);
        let items = take_items(&mut answer, &items_path);
        let count = items.len();
        let room = paged
            .paging
            .max_items
            .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX))
            .saturating_sub(progress.count);
        let page: Vec<Value> = items.into_iter().take(room).collect();
        progress.count += page.len();
        progress.pages += 1;
        progress.next = next_page(spec, &next, &answer, count, progress.count, default_limit)
            .map_err(|e| (e, progress.attempts))?;
        paged.record(progress.pages - 1, &answer, &page, progress.next.as_ref());
        progress.answer = answer;
        if !paged.deliver(&mut progress, page).await {
            break; // the step reading the items has stopped
        }
    }
    if let Some(sink) = &paged.sink {
        // A reader that has stopped has nothing left to hear.
        let _ = sink.send(Streamed::End).await;
    }
    let mut answer = progress.answer;
    put_items(&mut answer, &items_path, progress.items);
    Ok((answer, progress.attempts))
}

fn unusable(why: &str) -> StepError {
    StepError::new(
        ErrorKind::Other,
        format!("the connector's pagination cannot be followed: {why}"),
    )
}

impl Paged<'_> {
    /// Whether the step has read enough: its page or item bound.
    fn done(&self, progress: &Progress) -> bool {
        let pages = self.paging.pages.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        progress.pages >= pages
            || self
                .paging
                .max_items
                .is_some_and(|m| progress.count as u64 >= m)
    }

    /// One page: the operation with `next`'s parameters, or `next`'s URL.
    async fn fetch(&self, next: &Next) -> Result<(Value, u32), (StepError, u32)> {
        let params = match next {
            Next::Params(p) => p.clone(),
            Next::Url(_) => Map::new(),
        };
        let mut prepared = http::prepare(
            self.operation,
            self.endpoint.base_url,
            &self.endpoint.headers,
            &params,
        )
        .map_err(|e| (e, 0))?;
        if let Next::Url(url) = next {
            prepared.url = absolute(self.endpoint.base_url, url);
            prepared.query.clear();
            prepared.body = None;
        }
        let call = Call {
            step: self.step,
            item: self.item,
            operation: self.operation,
            params: &params,
            endpoint: self.endpoint.clone(),
            prepared,
            settings: self.settings.clone(),
        };
        call::call_with_retries(
            self.rt,
            &call,
            self.journal,
            self.prefix,
            None::<&mut Trace>,
        )
        .await
    }

    /// Gives a page's items to the sink, or keeps them for the answer. False when the sink's
    /// reader has stopped.
    async fn deliver(&self, progress: &mut Progress, page: Vec<Value>) -> bool {
        match &self.sink {
            Some(sink) => {
                for item in page {
                    if sink.send(Streamed::Item(item)).await.is_err() {
                        return false;
                    }
                }
                true
            }
            None => {
                progress.items.extend(page);
                true
            }
        }
    }

    /// The pages a run that stopped had already read (consecutive from the first, each kept
    /// whole): where it was to go on, and their items.
    fn recorded(&self) -> Option<(Progress, Vec<Value>)> {
        let journal = self.journal.filter(|_| self.record)?;
        let pages = journal.pages(&self.step.name);
        let last = pages.last()?;
        let mut items = Vec::new();
        for page in pages {
            let list = page.get("items").and_then(Value::as_array)?;
            items.extend(list.iter().cloned());
        }
        tracing::info!(step = %self.step.name, pages = pages.len(), "Resuming a paged read after its recorded pages.");
        let progress = Progress {
            items: Vec::new(),
            count: items.len(),
            answer: last.get("answer").cloned().unwrap_or(Value::Null),
            pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
            next: last.get("next").and_then(Next::from_json),
            attempts: 0,
        };
        Some((progress, items))
    }

    /// Records page `page`: its items, the answer around them, and where the next page is.
    fn record(&self, page: u32, answer: &Value, items: &[Value], next: Option<&Next>) {
        let Some(journal) = self.journal.filter(|_| self.record) else {
            return;
        };
        let output = json!({
            "items": items,
            "answer": answer,
            "next": next.map(Next::to_json),
        });
        journal.page_finished(&self.step.name, page, &output, self.rt.redactor());
    }
}

/// Where the page after `this` one is, as the pagination kind says; `None` when this was the
/// last: no items, fewer than the page size (the request's, else `default_limit`, the
/// operation's default), the total reached, or no cursor or URL for more.
fn next_page(
    spec: &Pagination,
    this: &Next,
    answer: &Value,
    count: usize,
    read: usize,
    default_limit: Option<u64>,
) -> Result<Option<Next>, StepError> {
    if count == 0 {
        return Ok(None);
    }
    if let Some(total) = spec.total.as_deref().and_then(|p| first_node(answer, p))
        && total.as_u64().is_some_and(|t| read as u64 >= t)
    {
        return Ok(None);
    }
    let params = match this {
        Next::Params(p) => p,
        Next::Url(_) => &Map::new(),
    };
    let limit = spec
        .limit_param
        .as_ref()
        .and_then(|l| params.get(l))
        .and_then(number)
        .or(default_limit);
    if limit.is_some_and(|l| (count as u64) < l) {
        return Ok(None);
    }
    let next = match spec.kind {
        PaginationKind::Cursor => cursor(spec, params, answer),
        PaginationKind::Offset => counter(params, spec.offset_param.as_deref(), 0, count as u64)?,
        PaginationKind::Page => counter(
            params,
            spec.page_param.as_deref(),
            spec.first_page.unwrap_or(1),
            1,
        )?,
        PaginationKind::NextUrl => spec
            .next
            .as_deref()
            .and_then(|p| first_node(answer, p))
            .and_then(|v| v.as_str().filter(|u| !u.is_empty()).map(str::to_string))
            .map(Next::Url),
    };
    // An API that points at the page just read would be read for ever.
    Ok(next.filter(|n| n != this))
}

/// The cursor kind: each cursor parameter gets its value from the answer; none: no more pages.
fn cursor(spec: &Pagination, params: &Map<String, Value>, answer: &Value) -> Option<Next> {
    let mut next = params.clone();
    let mut any = false;
    for (param, path) in &spec.cursor {
        match first_node(answer, path).filter(|v| !v.is_null()) {
            Some(v) => {
                next.insert(param.clone(), v);
                any = true;
            }
            None => {
                next.remove(param);
            }
        }
    }
    any.then_some(Next::Params(next))
}

/// The offset and page kinds: `param` grows by `step` from its value (or `start`).
fn counter(
    params: &Map<String, Value>,
    param: Option<&str>,
    start: u64,
    step: u64,
) -> Result<Option<Next>, StepError> {
    let param = param.ok_or_else(|| unusable("it names no parameter to move to the next page"))?;
    let now = params.get(param).and_then(number).unwrap_or(start);
    let mut next = params.clone();
    next.insert(param.to_string(), Value::from(now.saturating_add(step)));
    Ok(Some(Next::Params(next)))
}

/// A whole number, also when written as text.
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The first node a JSONPath selects in `doc`.
fn first_node(doc: &Value, path: &str) -> Option<Value> {
    sluice_template::jsonpath::evaluate(path, doc)
        .ok()
        .and_then(|nodes| nodes.into_iter().next())
}

/// Takes the items list out of an answer (an empty list when it has none).
fn take_items(answer: &mut Value, path: &[String]) -> Vec<Value> {
    let mut current = answer;
    for name in path {
        match current.get_mut(name.as_str()) {
            Some(next) => current = next,
            None => return Vec::new(),
        }
    }
    match std::mem::take(current) {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// Puts `items` back into the answer at `path` (creating the objects on the way).
fn put_items(answer: &mut Value, path: &[String], items: Vec<Value>) {
    if !answer.is_object() {
        *answer = Value::Object(Map::new());
    }
    let mut current = answer;
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    for name in parents {
        let Value::Object(map) = current else {
            return;
        };
        current = map
            .entry(name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = current {
        map.insert(last.clone(), Value::Array(items));
    }
}

/// `url` made absolute against `base` (a relative next-page URL).
fn absolute(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: serde_json::Value) -> Pagination {
        serde_json::from_value(yaml).expect("pagination")
    }

    fn progress(items: usize) -> usize {
        items
    }

    fn params(v: Value) -> Next {
        Next::Params(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn each_kind_finds_the_next_page_and_the_end() {
        let cursor = spec(
            json!({"kind": "cursor", "items": "$.contacts", "limit_param": "limit",
            "cursor": {"startAfterId": "$.meta.startAfterId"}}),
        );
        let this = params(json!({"limit": 2}));
        let full = json!({"meta": {"startAfterId": "c2"}});
        assert_eq!(
            next_page(&cursor, &this, &full, 2, progress(2), None)
                .ok()
                .flatten(),
            Some(params(json!({"limit": 2, "startAfterId": "c2"})))
        );
        // Fewer items than the page size: the last page.
        assert_eq!(
            next_page(&cursor, &this, &full, 1, progress(1), None)
                .ok()
                .flatten(),
            None
        );
        // No cursor in the answer: the last page.
        assert_eq!(
            next_page(&cursor, &this, &json!({"meta": {}}), 2, progress(2), None)
                .ok()
                .flatten(),
            None
        );

        let page = spec(
            json!({"kind": "page", "items": "$.contacts", "limit_param": "pageLimit",
            "page_param": "page", "total": "$.total"}),
        );
        let first = params(json!({"pageLimit": 2}));
        assert_eq!(
            next_page(&page, &first, &json!({"total": 5}), 2, progress(2), None)
                .ok()
                .flatten(),
            Some(params(json!({"pageLimit": 2, "page": 2})))
        );
        // The total is reached.
        assert_eq!(
            next_page(&page, &first, &json!({"total": 4}), 2, progress(4), None)
                .ok()
                .flatten(),
            None
        );

        let offset = spec(json!({"kind": "offset", "items": "$.x", "offset_param": "skip"}));
        assert_eq!(
            next_page(
                &offset,
                &params(json!({"skip": 10})),
                &json!({}),
                3,
                progress(3),
                None
            )
            .ok()
            .flatten(),
            Some(params(json!({"skip": 13})))
        );
        assert_eq!(
            next_page(
                &offset,
                &params(json!({})),
                &json!({}),
                0,
                progress(0),
                None
            )
            .ok()
            .flatten(),
            None
        );

        // Without the page size in the request, the operation's default page size counts: a
        // shorter page is the last.
        assert_eq!(
            next_page(
                &offset,
                &params(json!({"skip": 0})),
                &json!({}),
                2,
                progress(2),
                Some(25)
            )
            .ok()
            .flatten(),
            None
        );
        assert_eq!(
            next_page(
                &offset,
                &params(json!({"skip": 0})),
                &json!({}),
                25,
                progress(25),
                Some(25)
            )
            .ok()
            .flatten(),
            Some(params(json!({"skip": 25})))
        );

        let url = spec(json!({"kind": "next_url", "items": "$.x", "next": "$.links.next"}));
        assert_eq!(
            next_page(
                &url,
                &params(json!({})),
                &json!({"links": {"next": "/x?p=2"}}),
                1,
                progress(1),
                None
            )
            .ok()
            .flatten(),
            Some(Next::Url("/x?p=2".into()))
        );
        // The same URL again would never end.
        assert_eq!(
            next_page(
                &url,
                &Next::Url("/x?p=2".into()),
                &json!({"links": {"next": "/x?p=2"}}),
                1,
                progress(1),
                None
            )
            .ok()
            .flatten(),
            None
        );
    }

    #[test]
    fn items_go_out_of_the_answer_and_back() {
        let mut answer = json!({"data": {"rows": [1, 2]}, "meta": {"n": 2}});
        let path = vec!["data".to_string(), "rows".to_string()];
        assert_eq!(take_items(&mut answer, &path), vec![json!(1), json!(2)]);
        put_items(&mut answer, &path, vec![json!(1), json!(2), json!(3)]);
        assert_eq!(
            answer,
            json!({"data": {"rows": [1, 2, 3]}, "meta": {"n": 2}})
        );
        let mut nothing = Value::Null;
        put_items(&mut nothing, &path, vec![]);
        assert_eq!(nothing, json!({"data": {"rows": []}}));
        assert_eq!(absolute("http://a/b/", "/c?d=1"), "http://a/b/c?d=1");
        assert_eq!(absolute("http://a", "https://z/q"), "https://z/q");
    }
}
