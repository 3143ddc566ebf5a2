#!/usr/bin/env node
/**
 * `backroom-hub`: parses the command line and hands over to the hub (cli/serve.ts) or to the `devices`
 * sub-command (cli/devices.ts). stdout carries the listening line and the admin token's path (or a
 * command's output); logs and errors go to stderr.
 */
import { runDevicesCommand } from './cli/devices.js';
import { type CliIo, EXIT, USAGE } from './cli/io.js';
import { serve } from './cli/serve.js';

const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
const argv = process.argv.slice(2);

if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
  io.stdout.write(USAGE);
} else if (argv[0] === 'devices') {
  process.exitCode = await runDevicesCommand(argv.slice(1), io);
} else if (argv[0] !== undefined && !argv[0].startsWith('-')) {
  io.stderr.write(`backroom-hub: unknown command ${JSON.stringify(argv[0])}\n\n${USAGE}`);
  process.exitCode = EXIT.USAGE;
} else {
  const result = await serve(argv, io);
  if (typeof result === 'number') process.exitCode = result;
}
