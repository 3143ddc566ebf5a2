/**
 * The hub configuration: one TypeBox schema with defaults and no unknown keys, merged from four sources
 * (defaults < JSON file given by `--config`/`BACKROOM_CONFIG` < environment variables < command-line
 * flags), validated once with every problem listed in one error, then frozen.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Static, Type } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { HubError } from './errors.js';
import { LOG_LEVELS } from './logger.js';

const NonEmpty = Type.String({ minLength: 1 });
const OneOrMany = Type.Union([NonEmpty, Type.Array(NonEmpty, { minItems: 1 })]);

/** TLS listener for MQTT (`mqtts://`), started on `mqttsPort` only when this section is present. */
export const TlsConfigSchema = Type.Object(
  {
    /** PEM certificate chain of the hub. */
    certFile: NonEmpty,
    /** PEM private key of the hub. */
    keyFile: NonEmpty,
  },
  { additionalProperties: false },
);

/** JWT verification: exactly one key source, plus the audience and issuer every token must carry. */
export const JwtConfigSchema = Type.Object(
  {
    jwksUrl: Type.Optional(NonEmpty),
    jwksFile: Type.Optional(NonEmpty),
    publicKeyPem: Type.Optional(NonEmpty),
    publicKeyFile: Type.Optional(NonEmpty),
    certificateFile: Type.Optional(NonEmpty),
    audience: OneOrMany,
    issuer: OneOrMany,
    algorithms: Type.Array(Type.Union([Type.Literal('RS256'), Type.Literal('ES256')]), {
      minItems: 1,
      default: ['RS256', 'ES256'],
    }),
    /** A token whose `role` claim is `admin` gets admin rights. Off by default: only the admin token does. */
    allowAdmin: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

/** The full hub configuration schema (JSON file keys). */
export const HubConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data/hub' }),
    host: Type.String({ minLength: 1, default: '0.0.0.0' }),
    mqttPort: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    mqttsPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8883 }),
    httpPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    schemaFile: Type.Optional(NonEmpty),
    insecureNoAuth: Type.Boolean({ default: false }),
    // MQTT's own ceiling is 268,435,455 bytes of remaining length plus a 5-byte fixed header.
    maxPacketBytes: Type.Integer({ minimum: 64, maximum: 268_435_460, default: 1_048_576 }),
    maxSkewMs: Type.Integer({ minimum: 0, default: 60_000 }),
    tls: Type.Optional(TlsConfigSchema),
    jwt: Type.Optional(JwtConfigSchema),
    filters: Type.Record(Type.String({ minLength: 1 }), Type.String(), { default: {} }),
    tombstoneRetentionMs: Type.Integer({ minimum: 0, default: 7 * 24 * 60 * 60 * 1000 }),
    logLevel: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false },
);

type Mutable = Static<typeof HubConfigSchema>;

/** Deeply read-only view of `T`. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, frozen hub configuration. Paths are absolute; `schemaFile` is always set. */
export type HubConfig = DeepReadonly<Mutable & { schemaFile: string }>;

/** JWT section of {@link HubConfig}. */
export type JwtConfig = NonNullable<HubConfig['jwt']>;

/** TLS section of {@link HubConfig}. */
export type TlsConfig = NonNullable<HubConfig['tls']>;

/** Input of {@link resolveConfig}: any subset of the config keys (unknown keys are reported). */
export type PartialHubConfig = Partial<Mutable> & Record<string, unknown>;

/**
 * The retail schema shipped with the hub. `src/config.ts` and `dist/config.js` are both one level
 * below the package folder, so the same relative URL works for tsx and for compiled code.
 */
/** The retail schema shipped with sync-core (the agent uses the same file). */
export const DEFAULT_SCHEMA_FILE = fileURLToPath(
  import.meta.resolve('@backroom/sync-core/retail-schema.json'),
);

const PATH_KEYS = ['dataDir', 'schemaFile'] as const;
const TLS_PATH_KEYS = ['certFile', 'keyFile'] as const;
const JWT_PATH_KEYS = ['jwksFile', 'publicKeyFile', 'certificateFile'] as const;
const JWT_KEY_SOURCES = ['jwksUrl', 'jwksFile', 'publicKeyPem', 'publicKeyFile', 'certificateFile'] as const;

/** How a command-line flag or environment variable maps onto a config key. */
interface Setting {
  key: keyof Mutable;
  flag: string;
  env: string;
  kind: 'string' | 'int' | 'bool';
}

/** Every flag and environment variable of `backroom-hub` (CONTRACT.md, "Commands"). */
export const SETTINGS: readonly Setting[] = [
  { key: 'dataDir', flag: 'data', env: 'BACKROOM_DATA', kind: 'string' },
  { key: 'host', flag: 'host', env: 'BACKROOM_HOST', kind: 'string' },
  { key: 'mqttPort', flag: 'mqtt-port', env: 'BACKROOM_MQTT_PORT', kind: 'int' },
  { key: 'mqttsPort', flag: 'mqtts-port', env: 'BACKROOM_MQTTS_PORT', kind: 'int' },
  { key: 'httpPort', flag: 'http-port', env: 'BACKROOM_HTTP_PORT', kind: 'int' },
  { key: 'schemaFile', flag: 'schema', env: 'BACKROOM_SCHEMA', kind: 'string' },
  { key: 'insecureNoAuth', flag: 'insecure-no-auth', env: 'BACKROOM_INSECURE_NO_AUTH', kind: 'bool' },
  { key: 'maxPacketBytes', flag: 'max-packet-bytes', env: 'BACKROOM_MAX_PACKET_BYTES', kind: 'int' },
  { key: 'maxSkewMs', flag: 'max-skew-ms', env: 'BACKROOM_MAX_SKEW_MS', kind: 'int' },
  { key: 'logLevel', flag: 'log-level', env: 'BACKROOM_LOG_LEVEL', kind: 'string' },
];

/** Flag and environment variable naming the JSON config file. */
export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'BACKROOM_CONFIG';

/** Input of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Flags only (no node path, no script path, no sub-command), e.g. `['--mqtt-port', '0']`. */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths given by flags and environment variables. Default: `process.cwd()`. */
  cwd?: string;
  /** Check that `schemaFile` exists. Default true; the `devices` commands need only the data directory. */
  requireSchemaFile?: boolean;
}

/**
 * Builds the hub configuration from defaults, the JSON file (`--config` or `BACKROOM_CONFIG`),
 * `BACKROOM_*` environment variables and flags, in that order of precedence (flags win).
 * Relative paths in the JSON file are resolved against the file's folder; relative paths from flags
 * and environment variables against `cwd`.
 *
 * @throws HubError `HUB_ERR_CONFIG_INVALID` with `details.problems` listing every problem found in every
 *   source (unknown flags, unreadable file, bad numbers, schema violations, missing files).
 * @example
 * const config = loadConfig({ argv: process.argv.slice(2), env: process.env });
 */
export function loadConfig(options: LoadConfigOptions): HubConfig {
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const flags = parseFlags(options.argv, problems);

  const merged: Record<string, unknown> = {};
  const configFile = flags.get(CONFIG_FLAG) ?? options.env[CONFIG_ENV];
  if (configFile !== undefined && configFile !== '') {
    Object.assign(merged, readConfigFile(resolve(cwd, configFile), problems));
  }

  for (const s of SETTINGS) {
    const raw = options.env[s.env];
    if (raw === undefined || raw === '') continue;
    const v = convert(raw, s, s.env, problems);
    if (v !== undefined) merged[s.key] = s.kind === 'string' && isPathKey(s.key) ? resolve(cwd, raw) : v;
  }
  for (const s of SETTINGS) {
    const raw = flags.get(s.flag);
    if (raw === undefined) continue;
    const v = convert(raw, s, `--${s.flag}`, problems);
    if (v !== undefined) merged[s.key] = s.kind === 'string' && isPathKey(s.key) ? resolve(cwd, raw) : v;
  }
  return resolveConfig(merged, { cwd, problems, requireSchemaFile: options.requireSchemaFile });
}

/**
 * Applies defaults to `partial`, validates it and returns it frozen. For tests and for {@link loadConfig}.
 *
 * @throws HubError `HUB_ERR_CONFIG_INVALID`, `details.problems` listing every problem (plus any
 *   `problems` passed in).
 * @example
 * const config = resolveConfig({ dataDir: tmp, mqttPort: 0, httpPort: 0 });
 */
export function resolveConfig(
  partial: PartialHubConfig | Record<string, unknown>,
  options: { cwd?: string; problems?: string[]; requireSchemaFile?: boolean } = {},
): HubConfig {
  const cwd = options.cwd ?? process.cwd();
  const problems = [...(options.problems ?? [])];
  const value = Value.Default(HubConfigSchema, structuredClone(partial)) as Record<string, unknown>;

  // One problem per config path: TypeBox reports a missing union value twice (required + union).
  const seen = new Set<string>();
  for (const e of Value.Errors(HubConfigSchema, value)) {
    const where = e.path === '' ? '(config)' : e.path.slice(1).replaceAll('/', '.');
    if (seen.has(where)) continue;
    seen.add(where);
    const got =
      e.value === undefined || typeof e.value === 'object' ? '' : ` (got ${JSON.stringify(e.value)})`;
    problems.push(`${where}: ${describeError(e)}${got}`);
  }

  // Make every path absolute so that later components never depend on the process's cwd.
  if (value.schemaFile === undefined) value.schemaFile = DEFAULT_SCHEMA_FILE;
  for (const k of PATH_KEYS) if (typeof value[k] === 'string') value[k] = resolve(cwd, value[k] as string);
  const tls = asRecord(value.tls);
  if (tls)
    for (const k of TLS_PATH_KEYS) if (typeof tls[k] === 'string') tls[k] = resolve(cwd, tls[k] as string);
  const jwt = asRecord(value.jwt);
  if (jwt)
    for (const k of JWT_PATH_KEYS) if (typeof jwt[k] === 'string') jwt[k] = resolve(cwd, jwt[k] as string);

  crossCheck(value, problems, options.requireSchemaFile ?? true);

  if (problems.length > 0) {
    throw new HubError(
      'HUB_ERR_CONFIG_INVALID',
      `invalid hub configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { problems },
    );
  }
  return deepFreeze(value) as HubConfig;
}

/** Checks that span several keys or touch the file system; each failure adds one problem. */
function crossCheck(value: Record<string, unknown>, problems: string[], requireSchemaFile: boolean): void {
  const fileMustExist = (where: string, p: unknown) => {
    if (typeof p !== 'string') return;
    if (!existsSync(p)) problems.push(`${where}: file not found: ${p}`);
    else if (!statSync(p).isFile()) problems.push(`${where}: not a file: ${p}`);
  };
  if (requireSchemaFile) fileMustExist('schemaFile', value.schemaFile);

  const tls = asRecord(value.tls);
  if (tls) for (const k of TLS_PATH_KEYS) fileMustExist(`tls.${k}`, tls[k]);

  const jwt = asRecord(value.jwt);
  if (jwt) {
    const sources = JWT_KEY_SOURCES.filter((k) => jwt[k] !== undefined);
    if (sources.length !== 1) {
      problems.push(
        `jwt: exactly one key source is required (one of ${JWT_KEY_SOURCES.join(', ')}), got ${sources.length === 0 ? 'none' : sources.join(', ')}`,
      );
    }
    for (const k of JWT_PATH_KEYS) fileMustExist(`jwt.${k}`, jwt[k]);
    if (typeof jwt.jwksUrl === 'string') {
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(jwt.jwksUrl).protocol);
      } catch {}
      if (!ok) problems.push(`jwt.jwksUrl: not an http(s) URL: ${JSON.stringify(jwt.jwksUrl)}`);
    }
  }

  // Two listeners on one fixed port can never both bind; port 0 picks distinct free ports.
  const ports: [string, unknown][] = [
    ['mqttPort', value.mqttPort],
    ['httpPort', value.httpPort],
  ];
  if (tls) ports.push(['mqttsPort', value.mqttsPort]);
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [a, pa] = ports[i];
      const [b, pb] = ports[j];
      if (typeof pa === 'number' && pa !== 0 && pa === pb) problems.push(`${a} and ${b} are both ${pa}`);
    }
  }
}

/** Reads the JSON config file; relative paths inside it are taken relative to the file's folder. */
function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`config file ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    problems.push(`config file ${file}: not valid JSON (${(e as Error).message})`);
    return {};
  }
  const obj = asRecord(parsed);
  if (!obj) {
    problems.push(`config file ${file}: must contain a JSON object`);
    return {};
  }
  const base = dirname(file);
  for (const k of PATH_KEYS) if (typeof obj[k] === 'string') obj[k] = resolveFrom(base, obj[k] as string);
  const tls = asRecord(obj.tls);
  if (tls)
    for (const k of TLS_PATH_KEYS)
      if (typeof tls[k] === 'string') tls[k] = resolveFrom(base, tls[k] as string);
  const jwt = asRecord(obj.jwt);
  if (jwt)
    for (const k of JWT_PATH_KEYS)
      if (typeof jwt[k] === 'string') jwt[k] = resolveFrom(base, jwt[k] as string);
  return obj;
}

/** Parses `--name value`, `--name=value` and bare boolean flags; anything else is a problem. */
function parseFlags(argv: readonly string[], problems: string[]): Map<string, string> {
  const known = new Map<string, Setting['kind']>(SETTINGS.map((s) => [s.flag, s.kind]));
  known.set(CONFIG_FLAG, 'string');
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument ${JSON.stringify(arg)}`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = known.get(name);
    if (kind === undefined) {
      problems.push(`unknown flag --${name}`);
      // Its value, if any, is not a second problem.
      if (eq === -1 && i + 1 < argv.length && !argv[i + 1].startsWith('--')) i++;
      continue;
    }
    if (eq !== -1) out.set(name, arg.slice(eq + 1));
    else if (kind === 'bool') out.set(name, 'true');
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.set(name, argv[++i]);
    else problems.push(`--${name} needs a value`);
  }
  return out;
}

function convert(raw: string, s: Setting, where: string, problems: string[]): unknown {
  if (s.kind === 'string') return raw;
  if (s.kind === 'int') {
    if (!/^-?\d+$/.test(raw.trim())) {
      problems.push(`${where}: expected an integer, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return Number(raw.trim());
  }
  const b = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(b)) return true;
  if (['0', 'false', 'no', 'off'].includes(b)) return false;
  problems.push(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
  return undefined;
}

/** A readable message for a schema violation; literal unions list their allowed values. */
function describeError(e: ValueError): string {
  if (e.message === 'Expected required property') return 'is required';
  const anyOf = (e.schema as { anyOf?: { const?: unknown; type?: unknown }[] }).anyOf;
  if (anyOf?.every((x) => 'const' in x))
    return `expected one of ${anyOf.map((x) => JSON.stringify(x.const)).join(', ')}`;
  if (anyOf)
    return `expected ${anyOf.map((x) => (x.type === 'array' ? 'an array of strings' : 'a non-empty string')).join(' or ')}`;
  return e.message.charAt(0).toLowerCase() + e.message.slice(1);
}

function isPathKey(key: string): boolean {
  return (PATH_KEYS as readonly string[]).includes(key);
}

function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
