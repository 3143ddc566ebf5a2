/**
 * `backroom-agent`'s command line: flags, their environment variables and defaults, parsed into the
 * options of `createAgent`. Pure (no I/O), so it is tested without starting anything.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** What `createAgent` needs from the command line (the shape of `AgentOptions`). */
export interface AgentCliOptions {
  hubUrl: string;
  deviceId: string;
  token: string;
  dataDir: string;
  apiPort: number;
  schemaFile?: string;
  clientVars?: Record<string, string>;
  logLevel: string;
  maxMessageBytes?: number;
}

/** The outcome of {@link parseAgentArgs}. */
export type AgentCliParse =
  | { readonly kind: 'run'; readonly options: AgentCliOptions }
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

On start-up it prints one line of JSON on stdout: {"event":"listening","api":PORT}.
`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const HUB_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `argv` (without `node` and the script) with `env` as fallback: a flag beats its environment
 * variable, which beats the default; an empty variable counts as unset. Every problem is reported at once.
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

  const problems: string[] = [];
  const pick = (flag: string, variable: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[variable];
    return e === undefined || e === '' ? undefined : e;
  };
  const required = (flag: string, variable: string): string => {
    const v = pick(flag, variable);
    if (v === undefined || v === '') problems.push(`--${flag} (or ${variable}) is required`);
    return v ?? '';
  };

  const hubUrl = required('hub', 'BACKROOM_HUB');
  if (hubUrl) {
    let protocol: string | undefined;
    try {
      protocol = new URL(hubUrl).protocol;
    } catch {
      // reported below
    }
    if (!protocol || !HUB_PROTOCOLS.includes(protocol)) {
      problems.push(
        `--hub: expected mqtt://HOST:PORT (or mqtts://, ws://, wss://), got ${JSON.stringify(hubUrl)}`,
      );
    }
  }
  const deviceId = required('device-id', 'BACKROOM_DEVICE_ID');
  if (deviceId && !DEVICE_ID.test(deviceId)) {
    problems.push('--device-id: 1 to 64 characters of A-Z a-z 0-9 . _ -');
  }
  const token = required('token', 'BACKROOM_TOKEN');

  const apiPortText = pick('api-port', 'BACKROOM_API_PORT') ?? '7070';
  const apiPort = Number(apiPortText);
  if (!/^\d+$/.test(apiPortText) || apiPort > 65535) {
    problems.push(`--api-port: an integer from 0 to 65535, got ${JSON.stringify(apiPortText)}`);
  }

  const logLevel = pick('log-level', 'BACKROOM_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`--log-level: one of ${LOG_LEVELS.join(', ')}`);

  const maxText = pick('max-message-bytes', 'BACKROOM_MAX_MESSAGE_BYTES');
  const maxMessageBytes = maxText === undefined ? undefined : Number(maxText);
  if (maxText !== undefined && (!/^\d+$/.test(maxText) || maxMessageBytes === 0)) {
    problems.push(`--max-message-bytes: a positive integer, got ${JSON.stringify(maxText)}`);
  }

  // Client variables: the environment's first, then each flag (a flag overrides the same name).
  const clientVars: Record<string, string> = {};
  const addVar = (pair: string, where: string) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq);
    if (!VAR_NAME.test(name)) {
      problems.push(`${where}: expected NAME=VALUE with NAME like store_id, got ${JSON.stringify(pair)}`);
      return;
    }
    clientVars[name] = pair.slice(eq + 1);
  };
  const envVars = env.BACKROOM_CLIENT_VARS;
  if (envVars)
    for (const pair of envVars.split(',')) if (pair.trim()) addVar(pair.trim(), 'BACKROOM_CLIENT_VARS');
  for (const pair of (values['client-var'] as string[] | undefined) ?? []) addVar(pair, '--client-var');

  if (problems.length) return { kind: 'error', problems };

  const schema = pick('schema', 'BACKROOM_SCHEMA');
  return {
    kind: 'run',
    options: {
      hubUrl,
      deviceId,
      token,
      dataDir: resolve(cwd, pick('data', 'BACKROOM_AGENT_DATA') ?? './data/agent'),
      apiPort,
      ...(schema ? { schemaFile: resolve(cwd, schema) } : {}),
      ...(Object.keys(clientVars).length ? { clientVars } : {}),
      logLevel,
      ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
    },
  };
}
