import { execFile, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SETTINGS } from '../src/config';
import { startDevServer, type DevServer } from '../src/dev-server';
import { percentile } from '../src/percentile';
import { positiveInt, type Scenario, type ScenarioOutcome } from './harness';

const ROOT = path.resolve(__dirname, '..');

/** The start-up goal of the compiled CLI (issue 24): `jobctl --help` within this, p50. */
const HELP_GOAL_MS = 600;

export interface CliOptions {
  runs: number;
}

/** How a variant starts jobctl: Node's arguments before jobctl's own. */
const VARIANTS = {
  /** The compiled build, as `npx jobctl` runs it (bin/jobctl.js → dist/), with the compiled example application. */
  compiled: { node: [path.join(ROOT, 'bin/jobctl.js')], app: path.join(ROOT, 'build/app.js') },
  /** From the TypeScript sources through tsx: what bin/jobctl.js did before the build, and `npm run jobctl` does. */
  tsx: {
    node: ['--require', require.resolve('tsx/cjs'), path.join(ROOT, 'src/cli/jobctl.ts')],
    app: path.join(ROOT, 'app.ts'),
  },
} as const;
type Variant = keyof typeof VARIANTS;

interface Measured {
  key: string;
  label: string;
  /** jobctl's arguments for run `i` of a variant (with its application module). */
  args(app: string, i: number): string[];
  /** What stdout must hold for a run to count. */
  expect: RegExp;
}

/**
 * Start-up of jobctl, compiled and through tsx, in one run: the wall-clock time from spawning `node` to its exit, for
 * `jobctl --help` (commander and the command definitions) and for `jobctl enqueue` (plus the application, the client
 * and a StartWorkflowExecution against a dev server this scenario starts; no worker: the job only waits). The two
 * variants' runs alternate, so load on the machine hits both alike. Builds dist/ and build/ first when they are
 * missing or older than their sources.
 */
export const cli: Scenario<CliOptions> = {
  name: 'cli',
  description: 'jobctl start-up, compiled (dist/) vs tsx: --help and enqueue, p50/p95 wall clock',
  addOptions: (command) => command.option('--runs <n>', 'runs per command and variant', positiveInt, 15),
  run: () => Promise.reject(new Error('the cli scenario runs standalone')),
  standalone: (options) => runCli(options),
};

async function runCli(options: CliOptions & { address?: string }): Promise<ScenarioOutcome> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  buildIfStale('build', path.join(ROOT, 'dist/cli/jobctl.js'), ['src']);
  buildIfStale('build:app', path.join(ROOT, 'build/app.js'), ['app.ts', 'workflows', 'activities']);

  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));
  let server: DevServer | undefined;
  try {
    let address = options.address;
    let namespace: string = DEFAULT_SETTINGS.temporalNamespace;
    if (!address) {
      log('Starting Temporal dev server…');
      server = await startDevServer({ port: 0, headless: true, dbFilename: path.join(tempDir, 'temporal.sqlite') });
      address = server.address;
      namespace = server.namespace;
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      // Task queues of this run only: nothing serves them, the enqueued jobs just wait.
      JOBS_TASK_QUEUE_PREFIX: `bench-cli-${path.basename(tempDir).slice(-6)}`,
      JOBS_SQLITE_PATH: path.join(tempDir, 'app.sqlite'),
    };
    delete env.JOBS_APP; // --app says which application each variant runs
    // Without tracing, which would load the OpenTelemetry SDK into every run.
    for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];

    // A fresh idempotency key (invoice id) per run: every enqueue starts a workflow, none attaches to an earlier one.
    const base = randomInt(1_000_000, 1_000_000_000);
    const commands: Measured[] = [
      { key: 'help', label: 'jobctl --help', args: () => ['--help'], expect: /^Usage: jobctl/ },
      {
        key: 'enqueue',
        label: 'jobctl enqueue invoice-generation',
        args: (app, i) => ['--app', app, 'enqueue', 'invoice-generation', JSON.stringify({ invoiceId: base + i })],
        expect: /^Enqueued invoice-generation\//,
      },
    ];

    const problems: string[] = [];
    const timings: Record<string, Record<Variant, number[]>> = {};
    let seq = 0;
    for (const command of commands) {
      const times: Record<Variant, number[]> = (timings[command.key] = { compiled: [], tsx: [] });
      // One unmeasured run of each first: the disk cache, and tsx's cache of compiled files, are warm after it.
      for (let i = -1; i < options.runs; i++) {
        for (const variant of Object.keys(VARIANTS) as Variant[]) {
          const { node, app } = VARIANTS[variant];
          const run = await timeNode([...node, ...command.args(app, seq++)], env);
          if (run.code !== 0 || !command.expect.test(run.stdout)) {
            problems.push(`${command.label} (${variant}) exited ${run.code}: ${(run.stderr || run.stdout).trim()}`);
            continue;
          }
          if (i >= 0) times[variant].push(run.ms);
        }
      }
      log(`[cli] ${command.label}: ${options.runs} runs of each variant measured`);
    }

    const stat = (key: string, variant: Variant, p: number) => percentile(timings[key]![variant], p) ?? NaN;
    const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const lines = [
      `jobctl start-up, wall clock from spawning node to its exit; ${options.runs} runs per variant, alternating`,
      `  ${'command'.padEnd(36)} ${'compiled p50 / p95'.padStart(20)} ${'tsx p50 / p95'.padStart(20)} ${'tsx/compiled'.padStart(13)}`,
    ];
    const metrics: Record<string, number | boolean> = { runs: options.runs };
    for (const command of commands) {
      const [c50, c95, t50, t95] = [
        stat(command.key, 'compiled', 50),
        stat(command.key, 'compiled', 95),
        stat(command.key, 'tsx', 50),
        stat(command.key, 'tsx', 95),
      ];
      lines.push(
        `  ${command.label.padEnd(36)} ${`${seconds(c50)} / ${seconds(c95)}`.padStart(20)} ` +
          `${`${seconds(t50)} / ${seconds(t95)}`.padStart(20)} ${`${(t50 / c50).toFixed(1)}×`.padStart(13)}`,
      );
      Object.assign(metrics, {
        [`${command.key}CompiledP50Ms`]: c50,
        [`${command.key}CompiledP95Ms`]: c95,
        [`${command.key}TsxP50Ms`]: t50,
        [`${command.key}TsxP95Ms`]: t95,
        [`${command.key}TsxOverCompiled`]: t50 / c50,
      });
    }
    const helpP50 = stat('help', 'compiled', 50);
    metrics.helpGoalMet = helpP50 <= HELP_GOAL_MS;
    lines.push(
      '',
      `--help p50 ≤ ${HELP_GOAL_MS / 1000} s: ${metrics.helpGoalMet ? 'met' : 'not met'} (compiled: ${seconds(helpP50)})`,
      `(machine: ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end)`,
    );
    return { lines, metrics, problems };
  } finally {
    await server?.stop();
    fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Runs `node <args>` and measures it from spawn to exit. */
function timeNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const ms = performance.now() - started;
      resolve({ ms, code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs `npm run <script>` when `output` is missing or older than a file under `sources`. */
function buildIfStale(script: 'build' | 'build:app', output: string, sources: string[]): void {
  const builtAt = fs.existsSync(output) ? fs.statSync(output).mtimeMs : -Infinity;
  const newest = Math.max(...sources.map((source) => newestMtime(path.join(ROOT, source))));
  if (newest <= builtAt) return;
  process.stderr.write(`npm run ${script} (${path.relative(ROOT, output)} is ${builtAt < 0 ? 'missing' : 'stale'})…\n`);
  const built = spawnSync('npm', ['run', '--silent', script], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`npm run ${script} failed (exit ${built.status})`);
}

/** The newest modification time of a file, or of any file in a folder (recursively). */
function newestMtime(file: string): number {
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(file).map((name) => newestMtime(path.join(file, name))));
}
