/** `backroom-hub` without a sub-command: start the hub, print the listening line, stop on a signal. */

import { isSyncError } from '@backroom/sync-core';
import { createHub, type Hub } from '../app.js';
import { type HubConfig, loadConfig } from '../config.js';
import { isHubError } from '../errors.js';
import { attachSync } from '../sync/attach.js';
import { type CliIo, EXIT } from './io.js';

/** How long a clean shutdown may take before the process gives up and exits with 1. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Starts the hub from flags, environment and config file. On success prints on stdout first the line
 * `{"event":"listening","mqtt":PORT,"http":PORT}` (plus `"mqtts":PORT` with TLS), then a plain line with
 * the admin token's path (and on first start how to use it), and resolves
 * with the running hub; SIGINT/SIGTERM then close it and exit 0. Resolves with an exit code when the
 * hub cannot start (2: configuration, 1: anything else), after printing why on stderr.
 */
export async function serve(argv: readonly string[], io: CliIo): Promise<Hub | number> {
  let config: HubConfig;
  try {
    config = loadConfig({ argv, env: io.env, cwd: io.cwd });
  } catch (e) {
    if (!isHubError(e, 'HUB_ERR_CONFIG_INVALID')) throw e;
    io.stderr.write(`backroom-hub: ${e.message}\n`);
    return EXIT.USAGE;
  }
  if (config.insecureNoAuth) {
    io.stderr.write(
      '\n*** WARNING: --insecure-no-auth is set. Any device may connect as any device and anyone may call\n' +
        '*** the HTTP API without a token. Use this for local experiments only, never in a store.\n\n',
    );
  }
  let hub: Hub;
  try {
    hub = await createHub(config, { attach: attachSync });
  } catch (e) {
    // Our own errors (a port in use, a damaged database file...) are one line that says what to do;
    // only a bug gets a stack trace.
    if (!isHubError(e) && !isSyncError(e)) throw e;
    io.stderr.write(`backroom-hub: ${e.message.replaceAll('\n', ' ')}\n`);
    return e.code === 'HUB_ERR_CONFIG_INVALID' ? EXIT.USAGE : EXIT.FAILURE;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.stderr.write(`backroom-hub: ${signal} again, exiting without a clean shutdown\n`);
      process.exit(EXIT.FAILURE);
    }
    stopping = true;
    hub.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      io.stderr.write('backroom-hub: shutdown took too long, exiting\n');
      process.exit(EXIT.FAILURE);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    hub.close().then(
      () => process.exit(EXIT.OK),
      (err: unknown) => {
        io.stderr.write(`backroom-hub: shutdown failed: ${String(err)}\n`);
        process.exit(EXIT.FAILURE);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Only now: a script may signal the hub as soon as it reads this line, and until a handler is
  // installed the kernel's default action for SIGINT/SIGTERM kills the process outright.
  io.stdout.write(`${JSON.stringify({ event: 'listening', ...hub.ports })}\n`);
  // Then, for the person at the terminal, where the admin token is and (the first time) how to use it.
  const token = hub.adminToken.file;
  if (hub.adminToken.created) {
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    io.stdout.write(
      `admin token created: ${token} (mode 0600)\n` +
        `  use it as: curl -H "Authorization: Bearer $(cat ${token})" http://${host}:${hub.ports.http}/v1/devices\n`,
    );
  } else {
    io.stdout.write(`admin token: ${token}\n`);
  }
  return hub;
}
