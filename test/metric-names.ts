import { parse as parseYaml } from 'yaml';

/**
 * The metric names that Prometheus rules and a Grafana dashboard use, and which of them a worker's /metrics lacks.
 *
 * A name is any identifier in a PromQL expression that selects series: not a function or aggregation (followed by
 * `(`, or by `by`/`without`), not a keyword, not a label (inside `{…}` or the label list of `by`, `without`, `on`,
 * `ignoring`, `group_left`, `group_right`), not a duration (inside `[…]`, after `offset`), number (`Inf`, `NaN`),
 * string, comment or Grafana variable (`$job`, `${job}`, `[[job]]`). `{__name__="x"}` names `x`.
 *
 * Names are compared with the sample names on /metrics, so a histogram's `x_bucket`, `x_sum` and `x_count` are
 * checked as such: a query on the bare `x` names no series at all and is reported missing, as it should be.
 */

/** Where a name is used: the file and the rule or panel, for the failure message. */
export interface MetricNameUse {
  name: string;
  source: string;
}

/**
 * Series that Prometheus itself writes, never a worker: `up` (1 when the last scrape of a target succeeded, 0 when it
 * failed — JobWorkerDown alerts on it) and the other per-scrape series, plus the alert state series of the rules.
 */
export const PROMETHEUS_GENERATED_SERIES: ReadonlySet<string> = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'ALERTS',
  'ALERTS_FOR_STATE',
]);

type TokenKind = 'ident' | 'number' | 'string' | 'variable' | 'punct';
interface Token {
  kind: TokenKind;
  text: string;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2']);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'count',
  'min',
  'max',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'limitk',
  'limit_ratio',
]);

/** PromQL's lexical tokens, with Grafana's template variables as tokens of their own. */
function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const patterns: Array<[TokenKind | 'skip', RegExp]> = [
    ['skip', /^(\s+|#[^\n]*)/],
    ['string', /^("(\\.|[^"\\])*"|'(\\.|[^'\\])*'|`[^`]*`)/],
    ['variable', /^(\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\])/],
    // Numbers, hex numbers and durations (`5m`, `1h30m`, `1e-3`): never names.
    ['number', /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[a-zA-Z0-9_]*)/],
    ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
    ['punct', /^(=~|!~|!=|==|>=|<=|.)/s],
  ];
  let rest = expr;
  while (rest.length > 0) {
    for (const [kind, pattern] of patterns) {
      const match = pattern.exec(rest);
      if (!match) continue;
      if (kind !== 'skip') tokens.push({ kind, text: match[0] });
      rest = rest.slice(match[0].length);
      break;
    }
  }
  return tokens;
}

/** The index just past the bracket that closes the one at `open` (the end when unbalanced). */
function skipBalanced(tokens: Token[], open: number, openText: string, closeText: string): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === openText) depth++;
    else if (t.text === closeText && --depth === 0) return i + 1;
  }
  return tokens.length;
}

/** The metric names a PromQL expression selects, in order of first use, each once. */
export function metricNamesInPromQL(expr: string): string[] {
  const tokens = tokenize(expr);
  const names: string[] = [];
  const add = (name: string) => {
    if (!names.includes(name)) names.push(name);
  };
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'punct' && t.text === '{') {
      // Label matchers; `__name__="x"` is the metric name written as a label.
      const end = skipBalanced(tokens, i, '{', '}');
      for (let j = i + 1; j + 2 < end; j++) {
        const [label, op, value] = [tokens[j]!, tokens[j + 1]!, tokens[j + 2]!];
        if (label.text === '__name__' && op.text === '=' && value.kind === 'string') add(value.text.slice(1, -1));
      }
      i = end;
      continue;
    }
    if (t.kind === 'punct' && t.text === '[') {
      i = skipBalanced(tokens, i, '[', ']'); // a range or subquery: durations only
      continue;
    }
    if (t.kind !== 'ident') {
      i++;
      continue;
    }
    const word = t.text.toLowerCase();
    if (LABEL_LIST_KEYWORDS.has(word)) {
      i = next?.text === '(' ? skipBalanced(tokens, i + 1, '(', ')') : i + 1;
      continue;
    }
    const isCall = next?.text === '(';
    const isAggregation = AGGREGATIONS.has(word) && (next?.text === 'by' || next?.text === 'without');
    if (!KEYWORDS.has(word) && word !== 'inf' && word !== 'nan' && !isCall && !isAggregation) add(t.text);
    i++;
  }
  return names;
}

/** Every metric name used by the alerting and recording rules of a Prometheus rule file (its YAML text). */
export function metricNamesInRules(yamlText: string, file = 'rules'): MetricNameUse[] {
  const doc = parseYaml(yamlText) as { groups?: Array<{ rules?: Array<Record<string, unknown>> }> } | null;
  const uses: MetricNameUse[] = [];
  for (const group of doc?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      const label = rule.alert ? `alert ${String(rule.alert)}` : `record ${String(rule.record)}`;
      for (const name of metricNamesInPromQL(String(rule.expr ?? ''))) uses.push({ name, source: `${file}: ${label}` });
    }
  }
  return uses;
}

/** The series a rule file's recording rules write: Prometheus makes them, a worker does not. */
export function recordedNames(yamlText: string): string[] {
  const doc = parseYaml(yamlText) as { groups?: Array<{ rules?: Array<{ record?: string }> }> } | null;
  return (doc?.groups ?? []).flatMap((g) => (g.rules ?? []).flatMap((r) => (r.record ? [r.record] : [])));
}

/**
 * Every metric name a Grafana dashboard queries: each `expr` anywhere in it (panels, rows' nested panels, library
 * panels inlined), and its query variables, whose Grafana-only `label_values(<selector>, <label>)` form names the
 * selector's metric.
 */
export function metricNamesInDashboard(dashboard: unknown, file = 'dashboard'): MetricNameUse[] {
  const uses: MetricNameUse[] = [];
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) {
      node.forEach((child) => walk(child, where));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    const here = typeof obj.title === 'string' && 'type' in obj ? `panel "${obj.title}"` : where;
    if (typeof obj.expr === 'string')
      for (const name of metricNamesInPromQL(obj.expr)) uses.push({ name, source: `${file}: ${here}` });
    for (const value of Object.values(obj)) walk(value, here);
  };
  const d = dashboard as { panels?: unknown; templating?: { list?: Array<Record<string, unknown>> } };
  walk(d.panels, 'panels');
  for (const variable of d.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const raw = variable.query;
    const query =
      typeof raw === 'string'
        ? raw
        : String((raw as { query?: unknown } | undefined)?.query ?? variable.definition ?? '');
    const labelValues = /^\s*label_values\s*\(([\s\S]*),\s*[a-zA-Z_]\w*\s*\)\s*$/.exec(query);
    const expr = labelValues ? labelValues[1]! : /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(query)?.[1];
    if (expr === undefined) continue; // label_values(label), label_names(), metrics(regex): no series selected
    for (const name of metricNamesInPromQL(expr))
      uses.push({ name, source: `${file}: variable "${String(variable.name)}"` });
  }
  return uses;
}

/** The sample names on a Prometheus text exposition (a /metrics page). */
export function exposedMetricNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const line of metricsText.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{\s]/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

/**
 * The uses whose name is not on the worker's /metrics: the check fails when this is not empty. Series Prometheus
 * writes itself (`up` and the like, and the rules' own recorded series) are not the worker's to expose.
 */
export function missingMetricNames(
  uses: MetricNameUse[],
  metricsText: string,
  prometheusSeries: Iterable<string> = [],
): MetricNameUse[] {
  const exposed = exposedMetricNames(metricsText);
  const notTheWorkers = new Set([...PROMETHEUS_GENERATED_SERIES, ...prometheusSeries]);
  return uses.filter((u) => !exposed.has(u.name) && !notTheWorkers.has(u.name));
}
