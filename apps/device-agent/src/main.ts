#!/usr/bin/env node
/**
 * `backroom-agent`: parses flags (./cli-options.ts), starts the agent, prints
 * `{"event":"listening","api":PORT}` on stdout and closes the agent on SIGINT or SIGTERM.
 * Exit status: 0 after a clean shutdown, 1 when the agent fails to start or to close, 2 for a usage error.
 */
import { applyHeapSettings } from './heap-settings.js';

// First, before the modules below allocate: V8 settings for a long-running, mostly idle process.
applyHeapSettings();
const { pino } = await import('pino');
const { parseAgentArgs, USAGE } = await import('./cli-options.js');

const parsed = parseAgentArgs(process.argv.slice(2), process.env);
if (parsed.kind === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (parsed.kind === 'error') {
  process.stderr.write(`${parsed.problems.map((p) => `backroom-agent: ${p}`).join('\n')}\n\n${USAGE}`);
  process.exit(2);
}
const { options } = parsed;
// Logs are JSON on stderr: stdout carries only the start-up line that scripts read.
const log = pino(
  { level: options.logLevel, base: { component: 'agent-cli' } },
  pino.destination({ dest: 2, sync: true }),
);

// Imported after the flags are checked: a usage error needs none of the agent's native modules.
const { createAgent } = await import('./agent.js');
let agent: Awaited<ReturnType<typeof createAgent>>;
try {
  agent = await createAgent(options);
} catch (err) {
  // A coded error (a damaged replica file, a port in use...) is one line saying what to do; a bug is logged
  // with its stack.
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z]+_ERR_/.test(code)) {
    process.stderr.write(`backroom-agent: ${(err as Error).message.replaceAll('\n', ' ')}\n`);
  } else {
    log.fatal({ err }, `the agent could not start: ${(err as Error).message}`);
  }
  process.exit(1);
}
let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) {
    log.warn({ signal }, 'second signal while closing: exiting now');
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'closing the agent');
  agent.close().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'closing the agent failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Only now: a script may signal the agent as soon as it reads this line.
process.stdout.write(`${JSON.stringify({ event: 'listening', api: agent.apiPort })}\n`);
