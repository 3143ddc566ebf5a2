/**
 * What a newcomer gets from `git clone` and `npm install`: the `backroom-hub` and `backroom-agent`
 * commands in node_modules/.bin, working from the repository root; a licence; an install that needs no
 * warning explained (dependencies that run on Node 20, install scripts reviewed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKSPACES = ['packages/sync-core', 'packages/vector-store', 'apps/hub', 'apps/device-agent'];
/** The children's environment: no BACKROOM_* of the runner's own, and this node first on PATH. */
const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BACKROOM_'))),
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
};

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Json;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a command of node_modules/.bin as a shell would, from the repository root. */
function bin(name: string, args: string[]) {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', name), args, {
    cwd: ROOT,
    env: ENV,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

test('backroom-hub is on the path after npm install and runs from the repository root', (t) => {
  const help = bin('backroom-hub', ['--help']);
  assert.equal(help.error, undefined, 'node_modules/.bin/backroom-hub exists and starts');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /backroom-hub devices add ID --role pos\|sensor\|dashboard/);

  const data = join(tempDir(t), 'data');
  const add = bin('backroom-hub', ['devices', 'add', 'till-1', '--role', 'pos', '--json', '--data', data]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(JSON.parse(add.stdout).id, 'till-1');
  const list = bin('backroom-hub', ['devices', 'list', '--json', '--data', data]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    (JSON.parse(list.stdout) as Json[]).map((d) => d.id),
    ['till-1'],
  );
});

test('backroom-agent is on the path after npm install and runs from the repository root', () => {
  const help = bin('backroom-agent', ['--help']);
  assert.equal(help.error, undefined, 'node_modules/.bin/backroom-agent exists and starts');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: backroom-agent --hub mqtt:\/\/HOST:PORT --device-id ID --token TOKEN/);

  const usage = bin('backroom-agent', []);
  assert.equal(usage.code, 2, 'a usage error');
  assert.match(usage.stderr, /--hub \(or BACKROOM_HUB\) is required/);
});

test('each bin is a committed, executable launcher, and says what to do when dist/ is not built', (t) => {
  for (const [app, name] of [
    ['apps/hub', 'backroom-hub'],
    ['apps/device-agent', 'backroom-agent'],
  ]) {
    const pkg = readJson(`${app}/package.json`);
    const target = (pkg.bin as Record<string, string>)[name];
    // npm links a bin only if its file exists when it links, before the postinstall builds dist/.
    assert.doesNotMatch(target, /(^|\/)dist\//, `${name} must not point into dist/`);
    const file = join(ROOT, app, target);
    assert.ok(statSync(file).mode & 0o111, `${file} is executable`);
    assert.match(readFileSync(file, 'utf8'), /^#!\/usr\/bin\/env node\n/);

    // The same launcher in a folder without dist/: one line naming the fix, exit status 1.
    const dir = tempDir(t);
    mkdirSync(join(dir, 'bin'));
    copyFileSync(file, join(dir, 'bin', `${name}.js`));
    copyFileSync(join(ROOT, app, 'package.json'), join(dir, 'package.json'));
    const r = spawnSync(process.execPath, [join(dir, 'bin', `${name}.js`), '--help'], {
      env: ENV,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(`^${name}: .*dist/main\\.js is missing .*run \`npm run build\` first\\n$`),
    );
  }
});

test('the repository and every package are licensed Apache-2.0, with the full licence text', () => {
  const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004\s/);
  assert.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  assert.match(text, /9\. Accepting Warranty or Additional Liability\./);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  assert.match(text, /APPENDIX: How to apply the Apache License to your work\./);
  for (const dir of ['.', ...WORKSPACES]) {
    assert.equal(readJson(`${dir}/package.json`).license, 'Apache-2.0', `${dir}/package.json`);
  }
});

test('fastify test injection works on Node 20 with the cookie version the root pins', async () => {
  // light-my-request (fastify's inject) asks for cookie@2, which declares node >=22: npm install warned
  // EBADENGINE. The root package.json overrides it with cookie@1, whose stringifySetCookie is the same.
  const requireFromFastify = createRequire(
    createRequire(join(ROOT, 'apps/hub/package.json')).resolve('fastify'),
  );
  const lmrPackage = requireFromFastify.resolve('light-my-request/package.json');
  // cookie@2's `exports` hides its package.json: find it above the entry point.
  let cookiePackage = dirname(createRequire(lmrPackage).resolve('cookie'));
  while (!existsSync(join(cookiePackage, 'package.json')) && cookiePackage !== dirname(cookiePackage)) {
    cookiePackage = dirname(cookiePackage);
  }
  cookiePackage = join(cookiePackage, 'package.json');
  const cookie = JSON.parse(readFileSync(cookiePackage, 'utf8')) as { version: string; engines?: Json };
  const minimum = /^>=\s*(\d+)/.exec(String(cookie.engines?.node ?? '>=0'))?.[1];
  assert.ok(
    Number(minimum) <= 20,
    `cookie@${cookie.version} (${cookiePackage}) must run on Node 20, engines ${cookie.engines?.node}`,
  );

  const { default: inject } = (await import(requireFromFastify.resolve('light-my-request'))) as {
    default: (
      handler: (req: { headers: Json }, res: { end(s: string): void }) => void,
      options: Json,
    ) => Promise<{ payload: string }>;
  };
  const res = await inject((req, res) => res.end(String(req.headers.cookie)), {
    url: '/',
    cookies: { till: 'pos 1', store: 'berlin-01' },
  });
  assert.equal(res.payload, 'till=pos%201; store=berlin-01');
});

test('every installed package with install scripts is reviewed in allowScripts; the native ones may build', () => {
  const policy = (readJson('package.json').allowScripts ?? {}) as Record<string, boolean>;
  assert.equal(policy['better-sqlite3'], true);
  assert.equal(policy['hnswlib-node'], true);
  const covered = (name: string, version: string) =>
    Object.keys(policy).some((key) => key === name || key === `${name}@${version}`);

  const unreviewed: string[] = [];
  const walk = (modules: string) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of readdirSync(join(modules, entry))) visit(join(modules, entry, scoped));
      } else visit(join(modules, entry));
    }
  };
  const visit = (dir: string) => {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) return;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
      name: string;
      version: string;
      scripts?: Record<string, string>;
      gypfile?: boolean;
    };
    const scripts = pkg.scripts ?? {};
    // npm runs `node-gyp rebuild` for a binding.gyp without an install script of its own.
    const hasScripts =
      Boolean(scripts.preinstall || scripts.install || scripts.postinstall) ||
      (pkg.gypfile !== false && existsSync(join(dir, 'binding.gyp')));
    if (hasScripts && !covered(pkg.name, pkg.version)) unreviewed.push(`${pkg.name}@${pkg.version}`);
    walk(join(dir, 'node_modules'));
  };
  walk(join(ROOT, 'node_modules'));
  assert.deepEqual(unreviewed, [], 'run `npm install-scripts ls` and approve or deny these in package.json');
});
