#!/usr/bin/env node
// The `backroom-agent` command. It is committed, not built: npm links a bin only if its file exists, and
// `npm install` links the bins before the root postinstall (`tsc -b`) builds dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    `backroom-agent: ${fileURLToPath(main)} is missing (the agent is not built yet); ` +
      'run `npm run build` first\n',
  );
  process.exit(1);
}
await import(main.href);
