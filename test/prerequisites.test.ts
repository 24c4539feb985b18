import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedChromium } from './chromium';
import { missingPrerequisites } from './prerequisites';
import { timeSkippingServerClasspathFile } from './time-skipping-server';

/**
 * The check `npm test` runs first, on a made-up machine: a PATH of stub executables, an empty per-user cache, and a
 * Chromium path of our choosing.
 */
describe('the prerequisite check', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A machine whose PATH holds exactly `tools` (name → what the stub prints on stderr), with its own cache dir. */
  function machine(tools: Record<string, string>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-prereq-'));
    dirs.push(root);
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    for (const [name, stderr] of Object.entries(tools)) {
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho '${stderr}' >&2\n`, { mode: 0o755 });
    }
    return {
      PATH: bin,
      DURABLE_JOBS_CACHE_DIR: path.join(root, 'cache'),
      CHROMIUM_PATH: path.join(bin, 'chromium'),
      ...extra,
    };
  }

  const complete = { java: 'openjdk version "17.0.15" 2025-04-15', mvn: '', temporal: '', chromium: '' };

  it('finds nothing missing on a machine that has everything', () => {
    expect(missingPrerequisites(machine(complete), '20.11.0')).toEqual([]);
  });

  it('reports a missing Java with its install command when PATH has no java', () => {
    const { java: _, ...withoutJava } = complete;
    expect(missingPrerequisites(machine(withoutJava), '20.11.0')).toEqual([
      expect.stringMatching(/^Java 17 or newer.*none on PATH.*apt-get install -y openjdk-17-jre-headless$/),
    ]);
  });

  it('reports every missing prerequisite, one line each, on an empty machine with Node 18', () => {
    const lines = missingPrerequisites(machine({}, { CHROMIUM_PATH: undefined }), '18.19.0', 'linux-x64');
    expect(lines).toEqual([
      expect.stringMatching(/^Node\.js 20 or newer \(this is 18\.19\.0\)/),
      expect.stringMatching(/^Temporal CLI v1\.5\.1, or Go 1\.21\+ to build it .*set TEMPORAL_CLI_PATH/),
      expect.stringMatching(/^Java 17 or newer.*apt-get install -y openjdk-17-jre-headless$/),
      expect.stringMatching(/^Maven.*apt-get install -y maven$/),
      expect.stringMatching(
        /^Chromium, for the Web UI tests: downloading @sparticuz\/chromium 153\.0\.0 needs npm and tar on PATH/,
      ),
    ]);
  });

  it('reports a Java older than 17 by its version', () => {
    const env = machine({ ...complete, java: 'openjdk version "11.0.22" 2024-01-16' });
    expect(missingPrerequisites(env, '20.11.0')).toEqual([expect.stringMatching(/^Java 17 or newer.*is Java 11\)/)]);
  });

  it('accepts Go instead of a Temporal CLI, but not a Go too old to fetch the toolchain the CLI needs', () => {
    const { temporal: _, ...withoutCli } = complete;
    // `go version` prints on stdout; the stubs print on stderr, so these write their own.
    const withGo = machine(withoutCli);
    fs.writeFileSync(path.join(withGo.PATH!, 'go'), '#!/bin/sh\necho go version go1.22.2 linux/amd64\n', {
      mode: 0o755,
    });
    expect(missingPrerequisites(withGo, '20.11.0')).toEqual([]);
    fs.writeFileSync(path.join(withGo.PATH!, 'go'), '#!/bin/sh\necho go version go1.19.8 linux/amd64\n', {
      mode: 0o755,
    });
    expect(missingPrerequisites(withGo, '20.11.0')).toEqual([expect.stringMatching(/^Temporal CLI .*is Go 1\.19\)/)]);
  });

  it('needs no Maven once the test server classpath is cached, and no PATH lookup with a valid TEMPORAL_CLI_PATH', () => {
    const { mvn: _m, temporal: _t, ...rest } = complete;
    const env = machine(rest);
    fs.writeFileSync(path.join(env.PATH!, 'my-temporal'), '#!/bin/sh\n', { mode: 0o755 });
    env.TEMPORAL_CLI_PATH = path.join(env.PATH!, 'my-temporal');
    expect(missingPrerequisites(env, '20.11.0')).toEqual([expect.stringMatching(/^Maven/)]);
    fs.mkdirSync(path.dirname(timeSkippingServerClasspathFile(env)), { recursive: true });
    fs.writeFileSync(timeSkippingServerClasspathFile(env), '/some.jar');
    expect(missingPrerequisites(env, '20.11.0')).toEqual([]);
  });

  it('reports a TEMPORAL_CLI_PATH that is not an executable, as the dev server start would', () => {
    const env = machine(complete, { TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
    expect(missingPrerequisites(env, '20.11.0')).toEqual([
      expect.stringMatching(/TEMPORAL_CLI_PATH=\/nonexistent\/temporal is not an executable file/),
    ]);
  });

  describe('Chromium', () => {
    const { chromium: _, ...withoutChromium } = complete;

    it('needs none installed on Linux x64, only npm and tar to download the pinned build', () => {
      const env = machine({ ...withoutChromium, npm: '', tar: '' }, { CHROMIUM_PATH: undefined });
      expect(missingPrerequisites(env, '20.11.0', 'linux-x64')).toEqual([]);
      fs.rmSync(path.join(env.PATH!, 'npm'));
      expect(missingPrerequisites(env, '20.11.0', 'linux-x64')).toEqual([
        expect.stringMatching(
          /^Chromium, for the Web UI tests: downloading .* needs npm on PATH; or set CHROMIUM_PATH/,
        ),
      ]);
    });

    it('needs neither npm nor tar once the pinned build is in the per-user cache', () => {
      const env = machine(withoutChromium, { CHROMIUM_PATH: undefined });
      fs.mkdirSync(path.dirname(cachedChromium(env)), { recursive: true });
      fs.writeFileSync(cachedChromium(env), '#!/bin/sh\n', { mode: 0o755 });
      expect(missingPrerequisites(env, '20.11.0', 'linux-x64')).toEqual([]);
    });

    it('asks for CHROMIUM_PATH where there is no pinned build, and takes any executable there', () => {
      const env = machine({ ...withoutChromium, npm: '', tar: '' }, { CHROMIUM_PATH: undefined });
      expect(missingPrerequisites(env, '20.11.0', 'darwin-arm64')).toEqual([
        expect.stringMatching(
          /is for linux-x64 only and this is darwin-arm64; set CHROMIUM_PATH to a Chromium or Chrome/,
        ),
      ]);
      expect(missingPrerequisites(machine(complete), '20.11.0', 'darwin-arm64')).toEqual([]);
    });

    it('reports a CHROMIUM_PATH that is not an executable rather than downloading instead', () => {
      const env = machine({ ...withoutChromium, npm: '', tar: '' }, { CHROMIUM_PATH: '/nonexistent/chromium' });
      expect(missingPrerequisites(env, '20.11.0', 'linux-x64')).toEqual([
        expect.stringMatching(/CHROMIUM_PATH=\/nonexistent\/chromium is not an executable file; fix it, or unset it/),
      ]);
    });
  });
});
