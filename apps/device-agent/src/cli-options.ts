/**
 * `backroom-agent`'s command line: flags and their environment variables parsed into a raw options object,
 * which the agent's options schema (./options.ts) checks, fills with defaults and freezes. Every problem,
 * from the command line or the schema, is reported at once, named by its flag. Pure (no I/O), so it is
 * tested without starting anything.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type AgentOptions,
  CLIENT_VAR_NAME,
  checkAgentOptions,
  describeProblem,
  type ResolvedAgentOptions,
} from './options.js';

/** The outcome of {@link parseAgentArgs}. */
export type AgentCliParse =
  | { readonly kind: 'run'; readonly options: ResolvedAgentOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly problems: readonly string[] };

/** Printed by `--help` and after a usage error. */
export const USAGE = `Usage: backroom-agent --hub mqtt://HOST:PORT --device-id ID --token TOKEN [options]

Runs a Backroom device agent: a local replica of the store's data that keeps working offline, synced
with the hub, and a local HTTP API on 127.0.0.1.

Required (flag or environment variable):
  --hub URL               hub broker: mqtt://, mqtts://, ws:// or wss://   BACKROOM_HUB
  --device-id ID          this device's id (as enrolled at the hub)       BACKROOM_DEVICE_ID
  --token TOKEN           its credential or JWT                           BACKROOM_TOKEN
                          (prefer the variable: flags show up in process listings)
Options:
  --data DIR              replica folder (default ./data/agent)           BACKROOM_AGENT_DATA
  --api-port PORT         local API port, 0 = pick one (default 7070)     BACKROOM_API_PORT
  --schema FILE           collection schema (default: the retail schema)  BACKROOM_SCHEMA
  --client-var NAME=VALUE value of $client.NAME in sync filters; repeat   BACKROOM_CLIENT_VARS
                          for more (the variable: NAME=VALUE,NAME=VALUE)
  --log-level LEVEL       fatal|error|warn|info|debug|trace|silent        BACKROOM_LOG_LEVEL
                          (default info; logs are JSON on stderr)
  --max-message-bytes N   largest sync message (default: the protocol's)  BACKROOM_MAX_MESSAGE_BYTES
  -h, --help              show this help
Environment only:
  BACKROOM_RECONNECT_MIN_MS, BACKROOM_RECONNECT_MAX_MS
                          reconnect backoff bounds in ms (default 500 and 30000)

On start-up it prints one line of JSON on stdout: {"event":"listening","api":PORT}.
`;

/** How a flag or environment variable fills one option. */
interface Setting {
  readonly key: keyof AgentOptions;
  /** The flag, without `--`; none for an environment-only setting. */
  readonly flag?: string;
  readonly env: string;
  /** `path`: resolved against the working folder; `int`: digits become a number (anything else is left for the schema to refuse). */
  readonly kind: 'string' | 'path' | 'int';
}

/** Every option the command line sets, but `clientVars` (repeatable, see {@link parseAgentArgs}). */
const SETTINGS: readonly Setting[] = [
  { key: 'hubUrl', flag: 'hub', env: 'BACKROOM_HUB', kind: 'string' },
  { key: 'deviceId', flag: 'device-id', env: 'BACKROOM_DEVICE_ID', kind: 'string' },
  { key: 'token', flag: 'token', env: 'BACKROOM_TOKEN', kind: 'string' },
  { key: 'dataDir', flag: 'data', env: 'BACKROOM_AGENT_DATA', kind: 'path' },
  { key: 'apiPort', flag: 'api-port', env: 'BACKROOM_API_PORT', kind: 'int' },
  { key: 'schemaFile', flag: 'schema', env: 'BACKROOM_SCHEMA', kind: 'path' },
  { key: 'logLevel', flag: 'log-level', env: 'BACKROOM_LOG_LEVEL', kind: 'string' },
  { key: 'maxMessageBytes', flag: 'max-message-bytes', env: 'BACKROOM_MAX_MESSAGE_BYTES', kind: 'int' },
  { key: 'reconnectMinMs', env: 'BACKROOM_RECONNECT_MIN_MS', kind: 'int' },
  { key: 'reconnectMaxMs', env: 'BACKROOM_RECONNECT_MAX_MS', kind: 'int' },
];

/** The replica folder when neither `--data` nor BACKROOM_AGENT_DATA says. */
const DEFAULT_DATA_DIR = './data/agent';

/**
 * Parses `argv` (without `node` and the script) with `env` as fallback: a flag beats its environment
 * variable, which beats the default; an empty value counts as unset. Every problem is reported at once.
 *
 * @example
 * const r = parseAgentArgs(process.argv.slice(2), process.env);
 * if (r.kind === 'run') await createAgent(r.options);
 */
export function parseAgentArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd(),
): AgentCliParse {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        hub: { type: 'string' },
        'device-id': { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
        'api-port': { type: 'string' },
        schema: { type: 'string' },
        'client-var': { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        'max-message-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return { kind: 'error', problems: [(e as Error).message] };
  }
  if (values.help) return { kind: 'help' };

  // The raw options: each setting's text as given (flag, else variable), converted but not yet checked.
  const raw: Record<string, unknown> = {};
  const given = new Map<string, string>();
  for (const s of SETTINGS) {
    const flagged = s.flag === undefined ? undefined : values[s.flag];
    const text = typeof flagged === 'string' ? flagged : env[s.env];
    if (s.key === 'dataDir') raw.dataDir = resolve(cwd, text || DEFAULT_DATA_DIR);
    if (text === undefined || text === '' || s.key === 'dataDir') continue;
    given.set(s.key, text);
    raw[s.key] =
      s.kind === 'path' ? resolve(cwd, text) : s.kind === 'int' && /^\d+$/.test(text) ? Number(text) : text;
  }

  // Client variables: the environment's first, then each flag (a flag overrides the same name).
  const problems: string[] = [];
  const clientVars: Record<string, string> = {};
  const addVar = (pair: string, where: string) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq);
    if (!CLIENT_VAR_NAME.test(name)) {
      problems.push(`${where}: expected NAME=VALUE with NAME like store_id, got ${JSON.stringify(pair)}`);
      return;
    }
    clientVars[name] = pair.slice(eq + 1);
  };
  const envVars = env.BACKROOM_CLIENT_VARS;
  if (envVars)
    for (const pair of envVars.split(',')) if (pair.trim()) addVar(pair.trim(), 'BACKROOM_CLIENT_VARS');
  for (const pair of (values['client-var'] as string[] | undefined) ?? []) addVar(pair, '--client-var');
  if (Object.keys(clientVars).length) raw.clientVars = clientVars;

  const checked = checkAgentOptions(raw);
  if (!checked.ok) {
    // Named as the user wrote them: the flag (and, for a missing one, its variable too), the text typed.
    const named = checked.problems.map((p) => {
      const s = SETTINGS.find((x) => x.key === p.key);
      const flag = s?.flag === undefined ? (s?.env ?? p.key) : `--${s.flag}`;
      const name = p.kind === 'missing' && s?.flag ? `${flag} (or ${s.env})` : flag;
      const text = given.get(p.key);
      return describeProblem(
        p,
        name,
        p.value === undefined || text === undefined ? undefined : JSON.stringify(text),
      );
    });
    problems.unshift(...named);
  }
  if (!checked.ok || problems.length) return { kind: 'error', problems };
  return { kind: 'run', options: checked.options };
}
