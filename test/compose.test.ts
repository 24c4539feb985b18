import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cliTypeName, SEARCH_ATTRIBUTES } from '../src/sandbox/search-attributes';
import { TEMPORAL_SERVER_VERSION } from '../src/stack/binaries';
import { resolveTemporalCli } from '../src/temporal-cli';
import { parseQueueSpec } from '../src/worker/workers';
import { jobctl } from './jobctl';

/**
 * docker-compose.yml cannot run here (no Docker engine; CI checks its syntax with `docker-compose config`). These
 * checks keep it consistent with the code: every variable it sets is one the code reads, every command is a real
 * jobctl command, and every worker's queue list parses.
 */
const compose = fs.readFileSync(path.resolve(__dirname, '../docker-compose.yml'), 'utf8');
/** The library's settings, and the example application's own (where its services are). */
const config =
  fs.readFileSync(path.resolve(__dirname, '../src/config.ts'), 'utf8') +
  fs.readFileSync(path.resolve(__dirname, '../activities/services/settings.ts'), 'utf8');
/** The OTEL_* variables are read where tracing is set up (README "Traces"). */
const tracing = fs.readFileSync(path.resolve(__dirname, '../src/instrumentation/tracing.ts'), 'utf8');
/** How `jobctl stack` sets up Temporal's schemas, which compose's one-shot does the same way. */
const stackSource = fs.readFileSync(path.resolve(__dirname, '../src/stack/stack.ts'), 'utf8');
/** Compose and `jobctl stack` run the same Temporal release; admin-tools is tagged with the server's release. */
const serverVersion = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
const adminTools = `temporalio/admin-tools:${serverVersion}`;

/** The file as compose reads it (`<<: *app` merged). */
interface Service {
  image?: string;
  build?: string;
  entrypoint?: string[];
  command?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  environment?: Record<string, string>;
}
const parsed = parseYaml(compose, { merge: true }) as { services: Record<string, Service> };
/** The services that run our image (its entrypoint is jobctl). */
const ours = Object.entries(parsed.services).filter(([, service]) => service.build === '.');

describe('docker-compose.yml', () => {
  it('sets only environment variables the code reads', () => {
    const names = [...new Set(ours.flatMap(([, service]) => Object.keys(service.environment ?? {})))];
    expect(names.length).toBeGreaterThan(5);
    expect(names).toContain('JOBS_WORKER_VERSIONING');
    for (const name of names)
      expect(
        name.startsWith('OTEL_') ? tracing : config,
        `${name} is not read by ${
          name.startsWith('OTEL_')
            ? 'src/instrumentation/tracing.ts'
            : 'src/config.ts or activities/services/settings.ts'
        }`,
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
      return command ? [{ name, args: JSON.parse(command[1]!) as string[] }] : [];
    });
    expect(commands.length).toBeGreaterThanOrEqual(7);
    const problems = await Promise.all(
      commands.map(async ({ name, args }) => {
        // Every command runs in our image, whose entrypoint is jobctl: none is skipped by its name.
        if (parsed.services[name]?.build !== '.') return `${name}: command in an image that is not jobctl's`;
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

  it('registers exactly the search attributes the code sets, before any service of ours starts', async () => {
    const registrar = parsed.services['search-attributes'];
    expect(registrar, 'a search-attributes one-shot service').toBeDefined();
    // The Temporal CLI of the admin-tools build that matches the server's version.
    expect(registrar!.image).toBe(adminTools);
    expect(registrar!.entrypoint).toEqual(['temporal']);
    const command = registrar!.command!;
    expect(command.slice(0, 3)).toEqual(['operator', 'search-attribute', 'create']);
    const flag = (name: string) => command.flatMap((arg, i) => (arg === name ? [command[i + 1]!] : []));
    expect(flag('--address')).toEqual([parsed.services.http!.environment!.TEMPORAL_ADDRESS]);
    expect(flag('--namespace')).toEqual([parsed.services.http!.environment!.TEMPORAL_NAMESPACE]);
    const registered = flag('--name').map((name, i) => `${name}=${flag('--type')[i]}`);
    expect(registered).toEqual(SEARCH_ATTRIBUTES.map((key) => `${key.name}=${cliTypeName(key.type)}`));

    // Every service that runs our code (and so may start runs or query by them) waits until they exist.
    const dependents = ours.filter(([, service]) => service.depends_on);
    expect(dependents.map(([name]) => name)).toEqual(
      expect.arrayContaining(['http', 'worker-critical', 'worker-default', 'worker-low', 'schedules-sync', 'deploy']),
    );
    for (const [name, service] of dependents) {
      expect(service.depends_on, name).toMatchObject({
        'search-attributes': { condition: 'service_completed_successfully' },
      });
    }
    // No other service runs a command outside our image but the Temporal one-shots (the check above reads one-line
    // commands only).
    const foreign = Object.entries(parsed.services).filter(([, s]) => s.command && s.build !== '.');
    expect(foreign.map(([name]) => name).sort()).toEqual([
      'search-attributes',
      'temporal-namespace',
      'temporal-schema',
    ]);

    // The same command line, run by the Temporal CLI against this test run's dev server (which registered them at
    // start), succeeds: it is a valid command, and running it again on every `compose up` is harmless.
    const cli = await resolveTemporalCli();
    const args = command.map((arg, i) => (command[i - 1] === '--address' ? inject('temporalAddress') : arg));
    const { stdout } = await promisify(execFile)(cli!.path, args, { timeout: 30_000 });
    expect(stdout).toMatch(/added/i);
  }, 60_000);

  it('runs the Temporal server jobctl stack runs, after the admin-tools one-shots of the same release set it up', () => {
    const server = parsed.services.temporal!;
    expect(server.image).toBe(`temporalio/server:${serverVersion}`);
    // The server image renders its config from these (the template embedded in temporal-server).
    expect(server.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', DB_PORT: '5432' });
    const after = (name: string, condition: string) => ({ [name]: { condition } });
    expect(parsed.services['temporal-schema']!.depends_on).toEqual(after('postgresql', 'service_healthy'));
    expect(server.depends_on).toEqual(after('temporal-schema', 'service_completed_successfully'));
    expect(parsed.services['temporal-namespace']!.depends_on).toEqual(after('temporal', 'service_started'));
    expect(parsed.services['search-attributes']!.depends_on).toEqual(
      after('temporal-namespace', 'service_completed_successfully'),
    );
    for (const name of ['temporal-schema', 'temporal-namespace']) {
      expect(parsed.services[name]!.image, name).toBe(adminTools);
      expect(parsed.services[name]!.entrypoint, name).toEqual(['sh', '-euc']);
    }
    // The schemas of both databases, by the names temporal-sql-tool embeds, as src/stack/stack.ts brings them up.
    const schemaScript = parsed.services['temporal-schema']!.command!.join('\n');
    for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema --schema-name "postgresql/v12/'])
      expect(schemaScript).toContain(step);
    expect(schemaScript).toContain('temporal:temporal temporal_visibility:visibility');
    expect(stackSource).toContain("['temporal', 'postgresql/v12/temporal']");
    expect(stackSource).toContain("['temporal_visibility', 'postgresql/v12/visibility']");
    expect(parsed.services['temporal-schema']!.environment).toMatchObject({ SQL_PLUGIN: 'postgres12' });
    expect(parsed.services['temporal-namespace']!.command!.join('\n')).toContain(
      `--namespace ${parsed.services.http!.environment!.TEMPORAL_NAMESPACE} --retention 72h`,
    );
  });

  it("runs every worker as a version of the deployment, and makes this image's version current once they poll", () => {
    const workers = ours.filter(([, service]) => service.command?.[0] === 'worker');
    expect(workers.map(([name]) => name)).toEqual(['worker-critical', 'worker-default', 'worker-low']);
    for (const [name, service] of workers) {
      expect(service.environment?.JOBS_WORKER_VERSIONING, name).toBe('on');
      // The build ID comes from the image's workflow bundle, the deployment name from the task queue prefix.
      expect(service.environment, name).not.toHaveProperty('JOBS_BUILD_ID');
    }
    const deploy = parsed.services.deploy!;
    expect(deploy.command).toEqual(['deploy', 'set-current', '--wait']);
    // The same settings as the workers, so it names the same deployment and build.
    expect(deploy.environment).toEqual(workers[0]![1].environment);
    for (const [name] of workers)
      expect(deploy.depends_on, name).toMatchObject({ [name]: { condition: 'service_started' } });
  });
});
