import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Temporal's time-skipping test server is the Java SDK's `io.temporal:temporal-test-server` (Maven Central). Its
 * classpath is resolved once with Maven into a per-user cache. The wrapper script that
 * `TestWorkflowEnvironment.createTimeSkipping` runs as an `existing-path` executable (it passes the port) is written
 * into this checkout on every run instead: the SDK hands the server our stdout and stderr, and its log ran to hundreds
 * of thousands of lines per run (see LOG_RECORD_FORMAT), so the wrapper sends that log to a file per server.
 */
const POM = path.resolve(__dirname, 'temporal-test-server/pom.xml');
const VERSION = /<artifactId>temporal-test-server<\/artifactId>\s*<version>([^<]+)</.exec(
  fs.readFileSync(POM, 'utf8'),
)![1]!;
const ARTIFACTS = path.resolve(__dirname, '.artifacts');
export const TEST_LOG_DIR = path.join(ARTIFACTS, 'logs');

/**
 * The server logs through java.util.logging. In the chaos test it logs one error hundreds to thousands of times, an
 * IllegalStateException ("Unbalanced lock and unlock calls") whose message is its whole time-lock history (over 100 KB
 * and growing): up to 260 MB per run. Each record is cut to its first 3,000 characters, enough to tell what failed.
 */
const LOG_RECORD_FORMAT = '%1$tF %1$tT %4$s %3$s: %5$.1000s%6$.2000s%n';

/** Per-user cache of the resolved classpath, shared by every checkout. */
export function timeSkippingServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.DURABLE_JOBS_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-jobs');
  return path.join(base, 'temporal-test-server', VERSION);
}

/** The classpath file Maven writes; present once resolved (then Maven is no longer needed). */
export function timeSkippingServerClasspathFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(timeSkippingServerCacheDir(env), 'classpath.txt');
}

/** Where the server listening on `address` (`host:port`) writes its log. */
export function timeSkippingServerLog(address: string): string {
  return path.join(TEST_LOG_DIR, `time-skipping-server-${address.split(':').pop()}.log`);
}

/** Resolves the classpath if needed, writes the wrapper, and returns its path. Run once per test run (global setup). */
export function timeSkippingServerPath(): string {
  const classpathFile = timeSkippingServerClasspathFile();
  if (!fs.existsSync(classpathFile)) resolveClasspath(classpathFile);
  fs.mkdirSync(TEST_LOG_DIR, { recursive: true });
  // Each run's logs replace the last run's: they are named by port, so they would otherwise pile up.
  for (const file of fs.readdirSync(TEST_LOG_DIR)) {
    if (/^time-skipping-server-\d+\.log$/.test(file)) fs.rmSync(path.join(TEST_LOG_DIR, file), { force: true });
  }
  const wrapper = path.join(ARTIFACTS, 'time-skipping-server.sh');
  // The Java server's first argument is its port, which names the log. `exec` keeps the PID the SDK kills on teardown.
  const script = [
    '#!/bin/sh',
    `exec java -Djava.util.logging.SimpleFormatter.format='${LOG_RECORD_FORMAT}' -cp "$(cat '${classpathFile}')" io.temporal.testserver.TestServer "$@" >'${TEST_LOG_DIR}/time-skipping-server-'"$1"'.log' 2>&1`,
    '',
  ].join('\n');
  const temp = `${wrapper}.${process.pid}.tmp`;
  fs.writeFileSync(temp, script, { mode: 0o755 });
  fs.renameSync(temp, wrapper);
  return wrapper;
}

/** Maven writes to a temporary file that is renamed when complete, so an interrupted run never leaves half a classpath. */
function resolveClasspath(classpathFile: string): void {
  fs.mkdirSync(path.dirname(classpathFile), { recursive: true });
  const temp = `${classpathFile}.${process.pid}.tmp`;
  process.stderr.write(`Resolving Temporal's time-skipping test server ${VERSION} with Maven (once per machine)…\n`);
  execFileSync('mvn', ['-q', '-B', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${temp}`], {
    stdio: 'inherit',
  });
  fs.renameSync(temp, classpathFile);
}
