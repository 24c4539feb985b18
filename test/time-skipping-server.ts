import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Temporal's time-skipping test server is the Java SDK's `io.temporal:temporal-test-server` (Maven Central). Its
 * classpath is resolved once with Maven into a per-user cache, next to a wrapper script that `exec`s it, which is what
 * `TestWorkflowEnvironment.createTimeSkipping` runs as an `existing-path` executable (it passes the port).
 */
const POM = path.resolve(__dirname, 'temporal-test-server/pom.xml');
const VERSION = /<artifactId>temporal-test-server<\/artifactId>\s*<version>([^<]+)</.exec(fs.readFileSync(POM, 'utf8'))![1]!;

export function timeSkippingServerPath(): string {
  const base = process.env.DURABLE_JOBS_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-jobs');
  const dir = path.join(base, 'temporal-test-server', VERSION);
  const wrapper = path.join(dir, 'test-server.sh');
  if (fs.existsSync(wrapper)) return wrapper;
  fs.mkdirSync(dir, { recursive: true });
  const classpathFile = path.join(dir, 'classpath.txt');
  process.stderr.write(`Resolving Temporal's time-skipping test server ${VERSION} with Maven (once per machine)…\n`);
  execFileSync('mvn', ['-q', '-B', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`], { stdio: 'inherit' });
  const temp = `${wrapper}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `#!/bin/sh\nexec java -cp "$(cat '${classpathFile}')" io.temporal.testserver.TestServer "$@"\n`, { mode: 0o755 });
  fs.renameSync(temp, wrapper);
  return wrapper;
}
