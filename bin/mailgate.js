#!/usr/bin/env node
// The installed `mailgate` command: runs the TypeScript entry through tsx (a runtime dependency).
import { register } from 'tsx/esm/api';
register();
try {
  await import('../src/cli/index.ts');
} catch (e) {
  // Only a failure to load the program lands here (a broken install); the program reports everything else itself.
  console.error(`error: mailgate could not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '') && e instanceof Error) console.error(e.stack);
  process.exit(1);
}
