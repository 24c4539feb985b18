import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findOnPath, isExecutable, TEMPORAL_CLI_VERSION, temporalCliCacheDir } from '../src/temporal-cli';
import { chromiumProblem } from './chromium';
import { timeSkippingServerClasspathFile } from './time-skipping-server';

/**
 * What `npm test` needs from the machine, checked before anything runs (`tsx test/prerequisites.ts`), so a fresh clone
 * learns everything it lacks at once instead of one test failure at a time. Local and fast: no network, no build.
 */

/** The Temporal CLI needs Go 1.25; from 1.21 on, `go install` fetches that toolchain itself. */
const MIN_GO = [1, 21] as const;
const MIN_JAVA = 17;
const MIN_NODE = 20;

/** One line per missing prerequisite, saying what it is for and how to get it; empty when nothing is missing. */
export function missingPrerequisites(
  env: NodeJS.ProcessEnv = process.env,
  nodeVersion: string = process.versions.node,
  platform = `${process.platform}-${process.arch}`,
): string[] {
  const missing: string[] = [];

  if (major(nodeVersion) < MIN_NODE) {
    missing.push(
      `Node.js ${MIN_NODE} or newer (this is ${nodeVersion}): Debian 12's own nodejs is 18, install Node.js 20 from NodeSource's apt repository or with nvm`,
    );
  }

  const temporalCli = temporalCliProblem(env);
  if (temporalCli) missing.push(temporalCli);

  const java = findOnPath('java', env);
  const javaMajor = java ? javaVersion(java) : undefined;
  if (!java || javaMajor === undefined || javaMajor < MIN_JAVA) {
    const found = !java
      ? 'none on PATH'
      : javaMajor === undefined
        ? `${java} did not report its version`
        : `${java} is Java ${javaMajor}`;
    missing.push(
      `Java ${MIN_JAVA} or newer, for Temporal's time-skipping test server (${found}): apt-get install -y openjdk-17-jre-headless`,
    );
  }

  const classpath = timeSkippingServerClasspathFile(env);
  if (!fs.existsSync(classpath) && !findOnPath('mvn', env)) {
    missing.push(
      `Maven, to fetch Temporal's time-skipping test server once (no mvn on PATH, nothing cached at ${classpath}): apt-get install -y maven`,
    );
  }

  // CHROMIUM_PATH, or the pinned build that the Web UI tests download into the per-user cache (test/chromium.ts).
  const chromium = chromiumProblem(env, platform);
  if (chromium) missing.push(chromium);

  return missing;
}

/**
 * Mirrors resolveTemporalCli in src/temporal-cli.ts: TEMPORAL_CLI_PATH, then `temporal` on PATH, then the per-user
 * cache, then a Go build into that cache (during the first run's setup, several minutes).
 */
function temporalCliProblem(env: NodeJS.ProcessEnv): string | undefined {
  if (env.TEMPORAL_CLI_PATH) {
    return isExecutable(env.TEMPORAL_CLI_PATH)
      ? undefined
      : `Temporal CLI: TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file; fix or unset it`;
  }
  const cached = path.join(temporalCliCacheDir(env), 'temporal');
  if (findOnPath('temporal', env) || isExecutable(cached)) return undefined;
  const go = findOnPath('go', env);
  const goVersion = go ? goVersionOf(go, env) : undefined;
  if (goVersion && (goVersion[0] > MIN_GO[0] || (goVersion[0] === MIN_GO[0] && goVersion[1] >= MIN_GO[1])))
    return undefined;
  const found = !go
    ? 'no go on PATH'
    : goVersion
      ? `${go} is Go ${goVersion.join('.')}`
      : `${go} did not report its version`;
  return (
    `Temporal CLI ${TEMPORAL_CLI_VERSION}, or Go ${MIN_GO.join('.')}+ to build it (no temporal on PATH or at ${cached}, ${found}): ` +
    `install Go from go.dev/dl (Debian 12's golang-go is 1.19, too old), or set TEMPORAL_CLI_PATH to a Temporal CLI binary`
  );
}

function major(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
}

/** `java -version` prints e.g. `openjdk version "17.0.15"` (or `"1.8.0_392"` for Java 8) on stderr. */
function javaVersion(java: string): number | undefined {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}

/** `go version` prints e.g. `go version go1.26.8 linux/amd64`. */
function goVersionOf(go: string, env: NodeJS.ProcessEnv): [number, number] | undefined {
  const result = spawnSync(go, ['version'], { encoding: 'utf8', timeout: 10_000, env });
  const match = /go(\d+)\.(\d+)/.exec(result.stdout ?? '');
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

if (require.main === module) {
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    for (const line of missing) process.stderr.write(`npm test needs ${line}\n`);
    process.exit(1);
  }
}
