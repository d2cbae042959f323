/**
 * The run table's search syntax, compiled to the MongoDB-style filter that `liberry.Api`
 * sends to the server (mirrored by `liberry_widgets/runs/query/`; both are checked against
 * `tests/widgets/runs/query/cases.json`).
 *
 *   lr>=0.01 optimizer:adam state:finished tag:baseline
 *   (state:crashed OR state:failed) NOT tag:debug
 *   resnet                      bare words search the run name
 *   state:running,finished      a comma list means "any of"
 *   {"config.lr": 0.1}          text starting with "{" is taken as a raw JSON filter
 *
 * Terms side by side are ANDed; AND binds tighter than OR; NOT (or a leading "-") negates.
 * Operators: `:` and `=` (equals; contains for the name), `!=`, `>`, `>=`, `<`, `<=`,
 * `~` (regular expression) and `!~`. Bare keys resolve to the project's config keys, then
 * its summary metrics; `config.` / `summary.` prefixes force one or the other.
 *
 *   fields.ts   the vocabulary: run fields, states, values, which key a bare key means
 *   lexer.ts    text -> tokens
 *   parser.ts   tokens -> filter
 *   text.ts     filter -> text (what the box shows for a filter set from Python)
 */
export { type Filter, type KeyContext, RUN_STATES, escapeRegex, parseScalar, resolveKey } from "./fields";
export { type ParseError, type ParseResult, parseQuery } from "./parser";
export { formatQuery, normalize } from "./text";
