/**
 * Node's test runner over the files run.ts gives, in the order it gives them: `node --test` sorts its files by
 * name, run() starts them in argv order as its slots free up. The output (TAP) and the exit status are those
 * of `node --test`: 1 when a test failed that is not a todo.
 */
import { run } from 'node:test';
import { tap } from 'node:test/reporters';

const stream = run({ files: process.argv.slice(2), concurrency: Number(process.env.TEST_CONCURRENCY ?? 2) });
stream.on('test:fail', (data: { todo?: string | boolean }) => {
  if (data.todo === undefined || data.todo === false) process.exitCode = 1;
});
stream.compose(tap).pipe(process.stdout);
