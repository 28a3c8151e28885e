/**
 * `mailgate operators`: the people who log in to /admin. A password is never an argument (it would show in
 * `ps` and shell history): one is made and printed once, or read from stdin with --password-stdin.
 */
import type { Command } from 'commander';
import { action, print, withCore } from './command.js';

/** The first line of stdin, without its line end. */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

export function operatorsCommands(cli: Command): void {
  const operators = cli.command('operators').description('operators of the admin pages (/admin)');
  operators
    .command('create <login>')
    .description('a new operator; its password is made and shown once unless --password-stdin')
    .option('--password-stdin', 'read the password from the first line of stdin (at least 10 characters)')
    .option('--json', 'print one JSON object {login, password}')
    .action(
      action(async (login: string, o: { passwordStdin?: boolean; json?: boolean }) => {
        const given = o.passwordStdin ? await passwordFromStdin() : undefined;
        await withCore(async (core) => {
          const { operator, password } = await core.operators.create(login, given);
          print(o.json, { login: operator.login, ...(given === undefined ? { password } : {}) }, () =>
            given === undefined
              ? [`operator ${operator.login} created; password (shown once):`, `  ${password}`].join('\n')
              : `operator ${operator.login} created`,
          );
        });
      }),
    );
  operators
    .command('list')
    .description('every operator')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { json?: boolean }) => {
        await withCore(async (core) => {
          const rows = await core.operators.list();
          print(o.json, rows, () =>
            rows.length
              ? [
                  'login\tcreated\tpassword changed',
                  ...rows.map((r) => `${r.login}\t${r.created_at.toISOString()}\t${r.password_changed_at.toISOString()}`),
                ].join('\n')
              : '(no operators)',
          );
        });
      }),
    );
  operators
    .command('delete <login>')
    .description('remove an operator; its sessions end at once')
    .option('--json', 'print JSON')
    .action(
      action(async (login: string, o: { json?: boolean }) => {
        await withCore(async (core) => {
          const row = await core.operators.delete(login);
          print(o.json, { login: row.login, deleted: true }, () => `operator ${row.login} deleted`);
        });
      }),
    );
  operators
    .command('password <login>')
    .description("set a new password (made and shown once unless --password-stdin); the operator's sessions end")
    .option('--password-stdin', 'read the password from the first line of stdin (at least 10 characters)')
    .option('--json', 'print one JSON object {login, password}')
    .action(
      action(async (login: string, o: { passwordStdin?: boolean; json?: boolean }) => {
        const given = o.passwordStdin ? await passwordFromStdin() : undefined;
        await withCore(async (core) => {
          const { operator, password } = await core.operators.setPassword(login, given);
          print(o.json, { login: operator.login, ...(given === undefined ? { password } : {}) }, () =>
            given === undefined ? [`new password of ${operator.login} (shown once):`, `  ${password}`].join('\n') : `password of ${operator.login} changed`,
          );
        });
      }),
    );
}
