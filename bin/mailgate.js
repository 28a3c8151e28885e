#!/usr/bin/env node
// The installed `mailgate` command: runs the build of src/cli/index.ts (`npm install` builds it; so does
// `npm run build`).
const debug = /^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '');
// Stack traces (shown with LOG_LEVEL=debug) name the TypeScript sources.
if (debug) process.setSourceMapsEnabled(true);
const entry = new URL('../dist/cli/index.js', import.meta.url);
try {
  await import(entry.href);
} catch (e) {
  // Only a failure to load the program lands here; the program reports everything else itself.
  const missing = e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(decodeURIComponent(entry.pathname));
  console.error(
    missing
      ? 'error: mailgate is not built: run `npm run build` (npm install does it)'
      : `error: mailgate could not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
  );
  if (debug && e instanceof Error) console.error(e.stack);
  process.exit(1);
}
