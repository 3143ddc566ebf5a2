/**
 * The agent's options: one TypeBox schema with defaults and no unknown keys, checked once, every problem
 * listed, then frozen (like the hub's configuration, apps/hub/src/config.ts). `backroom-agent` builds a raw
 * object from its flags and environment variables (./cli-options.ts) and checks it here; `createAgent`
 * checks the options a POS program passes it the same way, unless they came from here already.
 *
 * Why a schema: the command line and the library take the same options, so one declaration says what each
 * accepts and what its default is, and both report a wrong value in the same words.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Log levels pino knows; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Schemes `hubUrl` may use. */
const HUB_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
/** A `$client.NAME` variable name. */
export const CLIENT_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Besides the schema keywords, each option says how its wrong value is told to a person: `problem` (the
 * same words on the command line and in the library's error), and `echo` when the value given may be
 * shown back (never for a credential). TypeBox keeps unknown keywords and ignores them when checking.
 */
interface Explained {
  readonly problem: string;
  readonly echo?: boolean;
}

const PATH = { minLength: 1, problem: 'a non-empty path' };
const MS = { minimum: 0, problem: 'an integer number of ms, 0 or more', echo: true };

/** The schema of {@link AgentOptions}; defaults: `apiPort` 7070, `logLevel` `info`. */
export const AgentOptionsSchema = Type.Object(
  {
    hubUrl: Type.String({
      minLength: 1,
      problem: 'expected mqtt://HOST:PORT (or mqtts://, ws://, wss://)',
      echo: true,
    }),
    deviceId: Type.String({
      pattern: '^[A-Za-z0-9._-]{1,64}$',
      problem: '1 to 64 characters of A-Z a-z 0-9 . _ -',
    }),
    token: Type.String({ minLength: 1, problem: 'a non-empty string' }),
    dataDir: Type.String(PATH),
    apiPort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 7070,
      problem: 'an integer from 0 to 65535',
      echo: true,
    }),
    schemaFile: Type.Optional(Type.String(PATH)),
    clientVars: Type.Optional(
      Type.Record(Type.String({ pattern: CLIENT_VAR_NAME.source }), Type.String(), {
        additionalProperties: false,
        problem: 'names like store_id (letters, digits and _), each with a string value',
      }),
    ),
    logLevel: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info', problem: `one of ${LOG_LEVELS.join(', ')}` },
    ),
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 1, problem: 'a positive integer', echo: true })),
    role: Type.Optional(Type.String({ minLength: 1, problem: 'a non-empty string' })),
    reconnectMinMs: Type.Optional(Type.Integer(MS)),
    reconnectMaxMs: Type.Optional(Type.Integer(MS)),
  },
  { additionalProperties: false },
);

/** What `createAgent` takes (and `backroom-agent`'s flags and environment variables fill). */
export interface AgentOptions {
  /** The hub: `mqtt://HOST:PORT` (or `mqtts://`, `ws://HOST:PORT/mqtt`, `wss://`). */
  readonly hubUrl: string;
  /** This terminal's id as enrolled at the hub: 1 to 64 characters of `A-Z a-z 0-9 . _ -`. */
  readonly deviceId: string;
  /** The credential printed by `backroom-hub devices add`, or a JWT. */
  readonly token: string;
  /** Where the replica lives (created if missing). */
  readonly dataDir: string;
  /** Local API port on 127.0.0.1; default 7070, 0 picks a free port. */
  readonly apiPort?: number;
  /** Collection schema (JSON); default the retail schema shipped with sync-core. */
  readonly schemaFile?: string;
  /** Values for `$client.VAR` in the hub's sync filters. */
  readonly clientVars?: Readonly<Record<string, string>>;
  /** A pino level (default `info`); logs are JSON on stderr. */
  readonly logLevel?: string;
  /** Largest sync message this terminal sends (default: the protocol's); the hub may lower it. */
  readonly maxMessageBytes?: number;
  /** Writer role for role-based precedence (default `pos`). */
  readonly role?: string;
  /**
   * Reconnect backoff bounds, ms (defaults 500 and 30 000, or BACKROOM_RECONNECT_MIN_MS and
   * BACKROOM_RECONNECT_MAX_MS).
   */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Checked {@link AgentOptions} with their defaults, frozen. */
export type ResolvedAgentOptions = Readonly<Static<typeof AgentOptionsSchema>>;

// The schema and the interface name the same options: one without the other does not compile.
const IN_STEP: [keyof AgentOptions] extends [keyof ResolvedAgentOptions]
  ? [keyof ResolvedAgentOptions] extends [keyof AgentOptions]
    ? true
    : never
  : never = true;
void IN_STEP;

/** One thing wrong with the options: which option, and what is wrong in words a person reads. */
export interface OptionProblem {
  /** The option's key (`hubUrl`...). */
  readonly key: string;
  /** `missing`: a required option is absent; `unknown`: no such option; `invalid`: see `problem`. */
  readonly kind: 'missing' | 'unknown' | 'invalid';
  /** What a valid value looks like (for `invalid`). */
  readonly problem: string;
  /** The value given, when it may be shown back; absent for a credential. */
  readonly value?: unknown;
}

/** The outcome of {@link checkAgentOptions}. */
export type OptionsCheck =
  | { readonly ok: true; readonly options: ResolvedAgentOptions }
  | { readonly ok: false; readonly problems: readonly OptionProblem[] };

/** Options that came out of {@link checkAgentOptions}: `createAgent` does not check them again. */
const checked = new WeakSet<object>();

/**
 * Applies the defaults to `raw`, checks it against {@link AgentOptionsSchema} and returns it frozen, or
 * every problem found, one per option, in the schema's order.
 *
 * @example
 * const r = checkAgentOptions({ hubUrl: 'mqtt://hub.local:1883', deviceId: 'till-1', token, dataDir });
 * if (!r.ok) for (const p of r.problems) console.error(p.key, p.problem);
 */
export function checkAgentOptions(raw: Readonly<Record<string, unknown>>): OptionsCheck {
  const value = Value.Default(AgentOptionsSchema, structuredClone(raw)) as Record<string, unknown>;
  const problems = new Map<string, OptionProblem>();
  for (const e of Value.Errors(AgentOptionsSchema, value)) {
    // One problem per option: TypeBox reports a missing value twice (required, then its type), and an
    // entry of `clientVars` under its own path.
    const key = e.path.split('/')[1] ?? '';
    if (problems.has(key)) continue;
    const property = (AgentOptionsSchema.properties as Record<string, Partial<Explained> | undefined>)[key];
    if (!property) {
      problems.set(key, { key, kind: 'unknown', problem: 'not an option of the agent' });
    } else if (e.message === 'Expected required property') {
      problems.set(key, { key, kind: 'missing', problem: property.problem ?? '' });
    } else {
      problems.set(key, invalid(key, property, value[key]));
    }
  }
  // Checks beyond the schema's words: the hub URL must parse, with one of the broker's schemes.
  if (!problems.has('hubUrl') && !hasHubProtocol(value.hubUrl as string)) {
    const property = AgentOptionsSchema.properties.hubUrl as unknown as Explained;
    problems.set('hubUrl', invalid('hubUrl', property, value.hubUrl));
  }
  if (problems.size) {
    // In the schema's order, whichever check found them; unknown keys last.
    const order = Object.keys(AgentOptionsSchema.properties);
    const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
    return { ok: false, problems: [...problems.values()].sort((a, b) => rank(a.key) - rank(b.key)) };
  }
  const options = deepFreeze(value) as ResolvedAgentOptions;
  checked.add(options);
  return { ok: true, options };
}

/**
 * The options `createAgent` runs with: `options` as they are when {@link checkAgentOptions} made them,
 * else checked now.
 *
 * @throws TypeError listing every problem, one per line (`hubUrl: expected mqtt://HOST:PORT...`).
 */
export function resolveAgentOptions(options: AgentOptions): ResolvedAgentOptions {
  if (checked.has(options)) return options as ResolvedAgentOptions;
  const r = checkAgentOptions(options as unknown as Readonly<Record<string, unknown>>);
  if (r.ok) return r.options;
  const lines = r.problems.map((p) => `  - ${describeProblem(p, p.key)}`);
  throw new TypeError(`invalid agent options:\n${lines.join('\n')}`);
}

/**
 * One problem in words, naming the option as `name` (its key, or a flag such as `--hub`); `got` overrides
 * how the value given is shown (the text typed on a command line, say).
 */
export function describeProblem(p: OptionProblem, name: string, got?: string): string {
  if (p.kind === 'missing') return `${name} is required`;
  if (p.kind === 'unknown') return `${name}: ${p.problem}`;
  const shown = got ?? (p.value === undefined ? undefined : JSON.stringify(p.value));
  return shown === undefined ? `${name}: ${p.problem}` : `${name}: ${p.problem}, got ${shown}`;
}

function invalid(key: string, property: Partial<Explained>, value: unknown): OptionProblem {
  return {
    key,
    kind: 'invalid',
    problem: property.problem ?? 'invalid',
    ...(property.echo && value !== undefined && typeof value !== 'object' ? { value } : {}),
  };
}

function hasHubProtocol(url: string): boolean {
  try {
    return HUB_PROTOCOLS.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
