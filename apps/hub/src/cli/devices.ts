/** `backroom-hub devices add|list|revoke`: enrol, list and revoke devices in `DATA/devices.db`. */
import type { DeviceRecord } from '../auth/device-registry.js';
import { DeviceRegistry } from '../auth/device-registry.js';
import { loadConfig } from '../config.js';
import { HubError, isHubError } from '../errors.js';
import { type CliIo, EXIT } from './io.js';

interface DevicesArgs {
  action: string | undefined;
  id: string | undefined;
  role: string | undefined;
  store: string | undefined;
  json: boolean;
  /** Everything else: config flags (`--data`, `--config`, ...). */
  configArgv: string[];
}

/**
 * Runs a `devices` sub-command; `argv` starts after `devices`. Returns the exit code.
 * `add` prints the credential once; it is not stored and cannot be shown again.
 * With `--json`, stdout carries JSON only: `add` one line `{"id","role","store","credential"}` (`store`
 * null when not given), `list` one line holding an array of device records (`id`, `role`, `store`,
 * `createdAt`, `revokedAt`, `lastSeen`; times in epoch milliseconds or null). Errors go to stderr.
 * @example
 * await runDevicesCommand(['add', 'pos-1', '--role', 'pos', '--data', dir], io);
 */
export async function runDevicesCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let args: DevicesArgs;
  try {
    args = parseDevicesArgs(argv);
  } catch (e) {
    io.stderr.write(`backroom-hub devices: ${(e as Error).message}\n`);
    return EXIT.USAGE;
  }
  let registry: DeviceRegistry | undefined;
  try {
    const config = loadConfig({ argv: args.configArgv, env: io.env, cwd: io.cwd, requireSchemaFile: false });
    registry = DeviceRegistry.open(config.dataDir);
    switch (args.action) {
      case 'add':
        return await add(registry, args, io);
      case 'list':
        return list(registry, args, io);
      case 'revoke':
        return revoke(registry, args, io);
      default:
        throw new HubError(
          'HUB_ERR_USAGE',
          `unknown action ${JSON.stringify(args.action)} (use add, list or revoke)`,
        );
    }
  } catch (e) {
    if (!isHubError(e)) throw e;
    io.stderr.write(`backroom-hub devices: ${e.message}\n`);
    return e.code === 'HUB_ERR_USAGE' || e.code === 'HUB_ERR_CONFIG_INVALID' ? EXIT.USAGE : EXIT.FAILURE;
  } finally {
    registry?.close();
  }
}

async function add(registry: DeviceRegistry, args: DevicesArgs, io: CliIo): Promise<number> {
  if (!args.id)
    throw new HubError('HUB_ERR_USAGE', 'usage: devices add ID --role pos|sensor|dashboard [--store S]');
  if (!args.role) throw new HubError('HUB_ERR_USAGE', '--role is required (pos, sensor or dashboard)');
  const { device, credential } = await registry.add({ id: args.id, role: args.role, store: args.store });
  if (args.json) {
    // One line, these four fields only: `| jq -r .credential` in a script, nothing else to skip over.
    io.stdout.write(
      `${JSON.stringify({ id: device.id, role: device.role, store: device.store, credential })}\n`,
    );
  } else {
    io.stdout.write(
      `Enrolled ${device.id} (role ${device.role}${device.store ? `, store ${device.store}` : ''}).\n` +
        'Credential (shown once; the hub keeps only a hash of it):\n' +
        `${credential}\n` +
        `Connect with MQTT username "${device.id}", client id "${device.id}" and this credential as password.\n`,
    );
  }
  return EXIT.OK;
}

function list(registry: DeviceRegistry, args: DevicesArgs, io: CliIo): number {
  const devices = registry.list();
  if (args.json) {
    io.stdout.write(`${JSON.stringify(devices)}\n`);
    return EXIT.OK;
  }
  const rows = [
    ['ID', 'ROLE', 'STORE', 'CREATED', 'REVOKED', 'LAST SEEN'],
    ...devices.map((d: DeviceRecord) => [
      d.id,
      d.role,
      d.store ?? '-',
      iso(d.createdAt),
      iso(d.revokedAt),
      iso(d.lastSeen),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows)
    io.stdout.write(
      `${r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd()}\n`,
    );
  return EXIT.OK;
}

function revoke(registry: DeviceRegistry, args: DevicesArgs, io: CliIo): number {
  if (!args.id) throw new HubError('HUB_ERR_USAGE', 'usage: devices revoke ID');
  const device = registry.revoke(args.id);
  io.stdout.write(
    `Revoked ${device.id}. It can no longer connect; a connection that is open now stays open until it ends.\n`,
  );
  return EXIT.OK;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function parseDevicesArgs(argv: readonly string[]): DevicesArgs {
  const out: DevicesArgs = {
    action: argv[0],
    id: undefined,
    role: undefined,
    store: undefined,
    json: false,
    configArgv: [],
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const [name, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
      return argv[++i];
    };
    if (name === '--role') out.role = value();
    else if (name === '--store') out.store = value();
    else if (name === '--json') out.json = true;
    else if (!a.startsWith('--')) {
      if (out.id !== undefined) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
      out.id = a;
    } else {
      // A config flag; take its value along unless it is a boolean flag.
      out.configArgv.push(a);
      if (
        inline === undefined &&
        a !== '--insecure-no-auth' &&
        i + 1 < argv.length &&
        !argv[i + 1].startsWith('--')
      ) {
        out.configArgv.push(argv[++i]);
      }
    }
  }
  return out;
}
