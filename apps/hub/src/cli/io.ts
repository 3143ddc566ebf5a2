/** What a CLI command may touch: its output streams, environment and working directory. */
export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Exit codes of `backroom-hub`. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** The usage text (`backroom-hub --help`). */
export const USAGE = `Usage:
  backroom-hub [--config FILE] [--data DIR] [--mqtt-port N] [--http-port N] [--host ADDR]
               [--schema FILE] [--insecure-no-auth] [--mqtts-port N] [--log-level LEVEL]
               [--max-packet-bytes N] [--max-skew-ms N]
  backroom-hub devices add ID --role pos|sensor|dashboard [--store S] [--json] [--data DIR]
  backroom-hub devices list [--json] [--data DIR]
  backroom-hub devices revoke ID [--data DIR]

Every flag has an environment variable: BACKROOM_CONFIG, BACKROOM_DATA, BACKROOM_MQTT_PORT,
BACKROOM_HTTP_PORT, BACKROOM_HOST, BACKROOM_SCHEMA, BACKROOM_INSECURE_NO_AUTH, BACKROOM_MQTTS_PORT,
BACKROOM_LOG_LEVEL, BACKROOM_MAX_PACKET_BYTES, BACKROOM_MAX_SKEW_MS. Flags win over the environment,
which wins over the config file. Port 0 picks a free port.
The hub binds 0.0.0.0 (every interface) unless --host says otherwise, e.g. --host 127.0.0.1.
On start-up the hub prints on stdout first {"event":"listening","mqtt":PORT,"http":PORT}, then the path
of its admin token (DATA/admin-token, mode 0600). Logs are JSON lines on stderr.
With --json, devices add prints one line {"id","role","store","credential"} and devices list one JSON
array; errors go to stderr.
`;
