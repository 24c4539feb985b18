import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQueueSpec } from '../src/worker';
import { jobctl } from './jobctl';

/**
 * docker-compose.yml cannot run here (no Docker engine; CI checks its syntax with `docker-compose config`). These
 * checks keep it consistent with the code: every variable it sets is one the code reads, every command is a real
 * jobctl command, and every worker's queue list parses.
 */
const compose = fs.readFileSync(path.resolve(__dirname, '../docker-compose.yml'), 'utf8');
const config = fs.readFileSync(path.resolve(__dirname, '../src/config.ts'), 'utf8');
/** The OTEL_* variables are read where tracing is set up (README "Traces"). */
const tracing = fs.readFileSync(path.resolve(__dirname, '../src/instrumentation/tracing.ts'), 'utf8');

describe('docker-compose.yml', () => {
  it('sets only environment variables the code reads', () => {
    const block = compose.slice(compose.indexOf('environment: &app-env'), compose.indexOf('\nservices:'));
    const names = [...block.matchAll(/^\s{4}([A-Z_]+):/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names)
      expect(
        name.startsWith('OTEL_') ? tracing : config,
        `${name} is not read by ${name.startsWith('OTEL_') ? 'src/instrumentation/tracing.ts' : 'src/config.ts'}`,
      ).toContain(`env.${name}`);
  });

  /** Services (name → block) under `services:`. */
  const services = new Map(
    [...compose.slice(compose.indexOf('\nservices:')).matchAll(/^ {2}([a-z-]+):\n((?: {4}.*\n|\n)*)/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );

  /**
   * Why `jobctl <args>` is not a command jobctl has, or undefined. `--help` exits 0 even for an unknown command (it
   * prints the nearest parent's help), so the help's usage line must name the whole command path, and every option
   * the command line uses must be in that help.
   */
  async function notACommand(args: string[]): Promise<string | undefined> {
    const run = await jobctl([...args, '--help'], {});
    if (run.code !== 0) return `exit ${run.code}: ${run.stderr}`;
    const firstOption = args.findIndex((a) => a.startsWith('-'));
    const words = firstOption === -1 ? args : args.slice(0, firstOption);
    const usage = `Usage: jobctl ${words.join(' ')} [options]`;
    if (!run.stdout.startsWith(usage)) return `help does not begin "${usage}": ${run.stdout.split('\n')[0]}`;
    const unknown = args.filter((a) => a.startsWith('--') && !new RegExp(`\\s${a}[\\s=]`).test(run.stdout));
    return unknown.length > 0 ? `no option ${unknown.join(', ')}` : undefined;
  }

  it('runs only real jobctl commands, and workers with valid queue lists', async () => {
    expect(services.size).toBeGreaterThanOrEqual(10);
    const commands = [...services].flatMap(([name, block]) => {
      const command = /^ {4}command: (\[.*\])$/m.exec(block);
      return command ? [{ name, block, args: JSON.parse(command[1]!) as string[] }] : [];
    });
    expect(commands.length).toBeGreaterThanOrEqual(7);
    const problems = await Promise.all(
      commands.map(async ({ name, block, args }) => {
        // Every command runs in our image, whose entrypoint is jobctl: none is skipped by its name.
        if (!/^ {4}(<<: \*app|build: \.)$/m.test(block)) return `${name}: command in an image that is not jobctl's`;
        if (args[0] === 'worker') expect(() => parseQueueSpec(args[args.indexOf('--queues') + 1])).not.toThrow();
        const why = await notACommand(args);
        return why && `${name}: jobctl ${args.join(' ')}: ${why}`;
      }),
    );
    expect(problems.filter(Boolean)).toEqual([]);
  }, 60_000);

  it('publishes beyond loopback only the HTTP service, which requires API tokens (compose stops without them)', () => {
    const published = [...services].flatMap(([name, block]) =>
      [...block.matchAll(/^ {6}- "([^"]+)"$/gm)].map((m) => ({ name, mapping: m[1]!, block })),
    );
    expect(published.map((p) => p.name).sort()).toEqual(['http', 'temporal', 'temporal-ui']);
    const open = published.filter((p) => !p.mapping.startsWith('127.0.0.1:'));
    expect(open.map((p) => p.name)).toEqual(['http']);
    const http = open[0]!.block;
    expect(http).toMatch(/^ {6}JOBS_API_TOKENS: \$\{JOBS_API_TOKENS:\?.+\}$/m); // mandatory: interpolation fails without
    expect(config).toContain('env.JOBS_API_TOKENS');
    expect(config).toContain('env.JOBS_API_RATE_LIMIT');
    expect(JSON.parse(/^ {4}command: (\[.*\])$/m.exec(http)![1]!)).toEqual([
      'http',
      '--host',
      '0.0.0.0',
      '--port',
      '3000',
    ]);
  });

  it('the command check fails for an unknown command, subcommand or option', async () => {
    expect(await notACommand(['no-such-command', '--port', '1'])).toMatch(/help does not begin/);
    expect(await notACommand(['schedules', 'no-such-subcommand'])).toMatch(/help does not begin/);
    expect(await notACommand(['worker', '--no-such-option', 'x'])).toBe('no option --no-such-option');
    expect(await notACommand(['schedules', 'sync', '--json'])).toBeUndefined();
  }, 60_000);
});
