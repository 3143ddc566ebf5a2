import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_SCHEMA_FILE, loadConfig, resolveConfig } from '../src/config.js';
import { isHubError } from '../src/errors.js';
import { schemaFile, tempDir } from './helpers.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(isHubError(e, 'HUB_ERR_CONFIG_INVALID'), String(e));
    return e.details.problems as string[];
  }
  assert.fail('the config was accepted');
}

test('defaults fill every setting; the result is frozen and its paths absolute', (t) => {
  const dir = tempDir(t);
  const config = resolveConfig({ schemaFile: schemaFile(dir) }, { cwd: dir });
  assert.equal(config.dataDir, join(dir, 'data/hub'));
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.mqttPort, 1883);
  assert.equal(config.httpPort, 8080);
  assert.equal(config.insecureNoAuth, false);
  assert.equal(config.maxPacketBytes, 1024 * 1024);
  assert.equal(config.maxSkewMs, 60_000);
  assert.equal(config.tombstoneRetentionMs, 7 * 24 * 3600 * 1000);
  assert.equal(config.logLevel, 'info');
  assert.deepEqual(config.filters, {});
  assert.equal(config.tls, undefined);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.filters));
  assert.throws(() => {
    (config as { mqttPort: number }).mqttPort = 1;
  });
  // The shipped schema is found relative to the package, wherever the hub is started from.
  assert.match(DEFAULT_SCHEMA_FILE, /sync-core[/\\]schema[/\\]retail\.json$/);
  assert.ok(existsSync(DEFAULT_SCHEMA_FILE));
});

test('validation lists every problem at once', (t) => {
  const dir = tempDir(t);
  const problems = problemsOf(() =>
    resolveConfig(
      {
        mqttPort: 70000,
        httpPort: 'eighty',
        colour: 'blue',
        logLevel: 'loud',
        filters: { transactions: 42 },
        schemaFile: join(dir, 'missing.json'),
        tls: { certFile: join(dir, 'cert.pem') },
        jwt: {
          audience: 'hub',
          issuer: 'idp',
          jwksFile: join(dir, 'jwks.json'),
          publicKeyPem: 'x',
          algorithms: ['HS256'],
        },
      },
      { cwd: dir },
    ),
  );
  const expectations = [
    /^mqttPort: .*65535/,
    /^httpPort: expected integer/,
    /^colour: unexpected property/,
    /^logLevel: expected one of .*"info"/,
    /^filters\.transactions: expected string/,
    /^schemaFile: file not found/,
    /^tls\.keyFile: is required/,
    /^tls\.certFile: file not found/,
    /^jwt\.algorithms\.0: expected one of "RS256", "ES256"/,
    /^jwt: exactly one key source is required.*jwksFile, publicKeyPem/,
    /^jwt\.jwksFile: file not found/,
  ];
  for (const re of expectations)
    assert.ok(
      problems.some((p) => re.test(p)),
      `${re} in ${JSON.stringify(problems, null, 1)}`,
    );
  assert.equal(problems.length, expectations.length, JSON.stringify(problems, null, 1));
});

test('precedence: defaults < config file < environment < flags', (t) => {
  const dir = tempDir(t);
  const schema = schemaFile(dir);
  const file = join(dir, 'hub.json');
  writeFileSync(
    file,
    JSON.stringify({
      host: '10.0.0.1',
      mqttPort: 1000,
      httpPort: 1001,
      dataDir: 'store-data',
      filters: { t: 'a == 1' },
    }),
  );
  const config = loadConfig({
    argv: ['--mqtt-port', '3000', '--schema', 'schema.json', '--insecure-no-auth'],
    env: {
      BACKROOM_CONFIG: file,
      BACKROOM_MQTT_PORT: '2000',
      BACKROOM_HTTP_PORT: '2001',
      BACKROOM_LOG_LEVEL: 'warn',
    },
    cwd: dir,
  });
  assert.equal(config.host, '10.0.0.1', 'file over default');
  assert.equal(config.httpPort, 2001, 'environment over file');
  assert.equal(config.mqttPort, 3000, 'flag over environment');
  assert.equal(config.logLevel, 'warn');
  assert.equal(config.insecureNoAuth, true);
  assert.equal(config.schemaFile, schema, 'flag paths are relative to the working directory');
  assert.equal(config.dataDir, join(dir, 'store-data'), 'file paths are relative to the file');
  assert.deepEqual(config.filters, { t: 'a == 1' });

  const flagFile = loadConfig({
    argv: [`--config=${file}`, '--data', '/srv/hub'],
    env: {},
    cwd: dir,
    requireSchemaFile: false,
  });
  assert.equal(flagFile.mqttPort, 1000);
  assert.equal(flagFile.dataDir, '/srv/hub');
});

test('bad flags, environment values and config files are all reported together', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'hub.json');
  writeFileSync(file, '{ "mqttPort": 1883, ');
  const problems = problemsOf(() =>
    loadConfig({
      argv: ['--mqtt-port', 'abc', '--colour', 'blue', '--http-port'],
      env: { BACKROOM_CONFIG: file, BACKROOM_INSECURE_NO_AUTH: 'maybe', BACKROOM_SCHEMA: 'nope.json' },
      cwd: dir,
    }),
  );
  const expectations = [
    /^unknown flag --colour/,
    /^--http-port needs a value/,
    /^config file .*hub\.json: not valid JSON/,
    /^BACKROOM_INSECURE_NO_AUTH: expected true or false/,
    /^--mqtt-port: expected an integer, got "abc"/,
    /^schemaFile: file not found: .*nope\.json/,
  ];
  for (const re of expectations)
    assert.ok(
      problems.some((p) => re.test(p)),
      `${re} in ${JSON.stringify(problems, null, 1)}`,
    );
  assert.equal(problems.length, expectations.length, JSON.stringify(problems, null, 1));
});
