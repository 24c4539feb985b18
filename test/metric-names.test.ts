import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  exposedMetricNames,
  metricNamesInDashboard,
  metricNamesInPromQL,
  metricNamesInRules,
  missingMetricNames,
  recordedNames,
} from './metric-names';

const MONITORING = path.resolve(__dirname, '../monitoring');

describe('metric names in PromQL', () => {
  it.each([
    ['a bare name', 'foo', ['foo']],
    ['a selector with matchers', 'foo{job="a", le=~"1|2", x!="y"}', ['foo']],
    ['a range, in a function', 'rate(foo_total[5m])', ['foo_total']],
    ['a Grafana range variable', 'rate(foo_total{job=~"$job"}[$__rate_interval])', ['foo_total']],
    [
      'an aggregation with its label list before',
      'sum by (job, le) (rate(d_bucket[15m]))',
      ['d_bucket'], // neither `job` nor `le`
    ],
    ['an aggregation with its label list after', 'sum(rate(a[1m])) without (instance)', ['a']],
    [
      'histogram_quantile over an aggregation',
      'histogram_quantile(0.95, sum by (job, le) (rate(d_bucket[15m]))) > 60000',
      ['d_bucket'],
    ],
    ['binary operators, bool and set operators', 'a > bool 1 and b or c unless d', ['a', 'b', 'c', 'd']],
    ['vector matching', 'a / on (job) group_left (team) b * ignoring (x) c', ['a', 'b', 'c']],
    ['offset and @', 'a offset 5m + b @ start() - c offset -1h30m', ['a', 'b', 'c']],
    ['a subquery', 'max_over_time(rate(a[1m])[1h:5m])', ['a']],
    ['numbers of every form', 'a * 1e-3 + 0x1F + .5 - Inf + NaN', ['a']],
    ['strings and comments', 'label_replace(a, "dst", "$1", "src", "(b.*)") # c', ['a']],
    ['the name as a label', '{__name__="a", job="x"} + {__name__=~"b.*"}', ['a']],
    ['recorded names with colons', 'job:failed:rate5m > 0.1', ['job:failed:rate5m']],
    ['each name once, in order', 'b + a + b', ['b', 'a']],
    ['Grafana variables outside strings', 'topk($n, a) + ${x} * [[y]]', ['a']],
  ])('%s', (_, expr, names) => {
    expect(metricNamesInPromQL(expr)).toEqual(names);
  });
});

const RULES = `
groups:
  - name: g
    rules:
      - alert: A
        expr: sum by (job) (rate(real_total[5m])) > 0 and up{job="w"} == 1
      - record: job:real:rate5m
        expr: sum by (job) (rate(real_total[5m]))
      - alert: B
        expr: job:real:rate5m > 1 or bogus_series_total > 0
`;
const METRICS = `# HELP real_total Things.
# TYPE real_total counter
real_total{job="a"} 3
h_bucket{le="+Inf"} 1
h_sum 2
h_count 1
`;

describe('the metric-name check', () => {
  it('finds the names of alert and recording rules, saying where each is used', () => {
    expect(metricNamesInRules(RULES, 'rules.yml')).toEqual([
      { name: 'real_total', source: 'rules.yml: alert A' },
      { name: 'up', source: 'rules.yml: alert A' },
      { name: 'real_total', source: 'rules.yml: record job:real:rate5m' },
      { name: 'job:real:rate5m', source: 'rules.yml: alert B' },
      { name: 'bogus_series_total', source: 'rules.yml: alert B' },
    ]);
    expect(recordedNames(RULES)).toEqual(['job:real:rate5m']);
  });

  it('fails on a rule naming a series the worker does not expose, not on up or recorded series', () => {
    const missing = missingMetricNames(metricNamesInRules(RULES, 'rules.yml'), METRICS, recordedNames(RULES));
    expect(missing).toEqual([{ name: 'bogus_series_total', source: 'rules.yml: alert B' }]);
  });

  it('passes when every name is exposed; a histogram is exposed as its _bucket, _sum and _count samples', () => {
    const uses = [
      { name: 'real_total', source: 'x' },
      ...['h_bucket', 'h_sum', 'h_count'].map((name) => ({ name, source: 'x' })),
    ];
    expect(missingMetricNames(uses, METRICS)).toEqual([]);
    // The bare histogram name selects no series in Prometheus: a query on it is a mistake the check reports.
    expect(missingMetricNames([{ name: 'h', source: 'x' }], METRICS)).toEqual([{ name: 'h', source: 'x' }]);
    expect([...exposedMetricNames(METRICS)]).toEqual(['real_total', 'h_bucket', 'h_sum', 'h_count']);
  });

  it("finds a dashboard's panel queries, nested row panels and query variables", () => {
    const dashboard = {
      panels: [
        { type: 'timeseries', title: 'P1', targets: [{ expr: 'rate(a_total[$__rate_interval])' }] },
        {
          type: 'row',
          title: 'R',
          panels: [{ type: 'stat', title: 'P2', targets: [{ expr: 'b' }, { expr: 'bogus_in_panel' }] }],
        },
      ],
      templating: {
        list: [
          { type: 'datasource', name: 'ds', query: 'prometheus' },
          { type: 'query', name: 'job', query: { query: 'label_values(c_count{x="1"}, job)' } },
          { type: 'query', name: 'q', query: 'label_values(task_queue)' },
          { type: 'query', name: 'r', query: 'query_result(topk(3, d))' },
        ],
      },
    };
    expect(metricNamesInDashboard(dashboard, 'd.json')).toEqual([
      { name: 'a_total', source: 'd.json: panel "P1"' },
      { name: 'b', source: 'd.json: panel "P2"' },
      { name: 'bogus_in_panel', source: 'd.json: panel "P2"' },
      { name: 'c_count', source: 'd.json: variable "job"' },
      { name: 'd', source: 'd.json: variable "r"' },
    ]);
    expect(missingMetricNames(metricNamesInDashboard(dashboard), 'a_total 1\nb 1\nc_count 1\nd 1\n')).toEqual([
      { name: 'bogus_in_panel', source: 'dashboard: panel "P2"' },
    ]);
  });
});

describe('the Grafana dashboard file', () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: Array<{ id: number; type: string; title: string; datasource?: { uid: string }; targets?: unknown[] }>;
    templating: { list: Array<{ name: string; type: string }> };
  };

  it('is importable anywhere: a Prometheus data source variable, a job variable, unique panel ids', () => {
    expect(dashboard.uid).toBe('durable-jobs');
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual(
      expect.arrayContaining([
        ['datasource', 'datasource'],
        ['job', 'query'],
        ['task_queue', 'query'],
      ]),
    );
    const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
    for (const p of queryPanels) expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('queries the job series, the task queue gauges and the SDK worker series', () => {
    const names = new Set(metricNamesInDashboard(dashboard).map((u) => u.name));
    for (const name of [
      'durable_jobs_job_succeeded_total',
      'durable_jobs_job_failed_total',
      'durable_jobs_job_duration_bucket',
      'durable_jobs_task_queue_backlog',
      'durable_jobs_task_queue_backlog_age_seconds',
      'durable_jobs_task_queue_pollers',
      'temporal_worker_task_slots_used',
      'temporal_worker_task_slots_available',
      'temporal_workflow_task_schedule_to_start_latency_bucket',
    ])
      expect(names).toContain(name);
  });
});
