/** `mailgate webhooks`: an account's webhook endpoints, their attempt log and replays. */
import type { Command } from 'commander';
import type { WebhookKind } from '../core/webhooks/payload.js';
import { action, asAccount, parseId, print } from './command.js';

// The kinds, here rather than from the core's WEBHOOK_KINDS (registering commands loads nothing of the core);
// `satisfies` keeps the list exactly the core's type.
const KINDS = Object.keys({
  delivered: true,
  deferred: true,
  bounced: true,
  complained: true,
  unsubscribed: true,
  opened: true,
  clicked: true,
} satisfies Record<WebhookKind, true>);

/** Rows as an aligned table under a header row. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

const iso = (d: Date | null) => (d ? d.toISOString() : '');

export function webhooksCommands(cli: Command): void {
  const webhooks = cli.command('webhooks').description("an account's webhook endpoints (signed POSTs of delivery and engagement events)");
  webhooks
    .command('add <url>')
    .description('register an endpoint; its signing secret is printed once')
    .requiredOption('--account <slug>', 'the account')
    .option('--events <kinds>', `the event kinds it receives, by commas (${KINDS.join(', ')}), or all`, 'all')
    .option('--description <text>', 'a note to recognise it by')
    .option('--json', 'print one JSON object {endpoint, secret}')
    .action(
      action(async (url: string, o: { account: string; events: string; description?: string; json?: boolean }) => {
        const kinds =
          o.events.trim() === 'all'
            ? KINDS
            : o.events
                .split(',')
                .map((k) => k.trim())
                .filter(Boolean);
        await asAccount(o.account, async (core, ctx) => {
          const r = await core.webhooks.add(ctx, { url, kinds, description: o.description ?? null });
          print(o.json, r, () =>
            [`endpoint ${r.endpoint.id}: ${r.endpoint.url} (${r.endpoint.kinds.join(', ')})`, 'signing secret (shown once):', `  ${r.secret}`].join('\n'),
          );
        });
      }),
    );
  webhooks
    .command('list')
    .description("the account's endpoints: URL, event kinds, state (enabled, or disabled and why) and backlog")
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.webhooks.list(ctx);
          print(o.json, rows, () =>
            rows.length
              ? table(
                  ['ID', 'STATE', 'PENDING', 'DELIVERED', 'FAILED', 'EVENTS', 'URL', 'NOTE'],
                  rows.map((e) => [
                    String(e.id),
                    e.disabledAt ? 'disabled' : e.failures ? `failing (${e.failures})` : 'enabled',
                    String(e.pending),
                    String(e.delivered),
                    String(e.failed),
                    e.kinds.length === KINDS.length ? 'all' : e.kinds.join(','),
                    e.url,
                    e.disabledReason ?? e.description ?? '',
                  ]),
                )
              : '(no webhook endpoints)',
          );
        });
      }),
    );
  webhooks
    .command('remove <id>')
    .description('remove an endpoint, with its undelivered messages and its attempt log')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, o: { account: string; json?: boolean }) => {
        const endpointId = parseId(id, `not an endpoint id: ${id}`, 'id');
        await asAccount(o.account, async (core, ctx) => {
          await core.webhooks.remove(ctx, endpointId);
          print(o.json, { id: endpointId, removed: true }, () => `removed endpoint ${endpointId}`);
        });
      }),
    );
  webhooks
    .command('disable <id>')
    .description('stop sending to an endpoint (its messages keep queueing until it is enabled)')
    .requiredOption('--account <slug>', 'the account')
    .option('--reason <text>', 'why', 'disabled by the operator')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, o: { account: string; reason: string; json?: boolean }) => {
        const endpointId = parseId(id, `not an endpoint id: ${id}`, 'id');
        await asAccount(o.account, async (core, ctx) => {
          const e = await core.webhooks.disable(ctx, endpointId, o.reason);
          print(o.json, e, () => `disabled endpoint ${e.id}: ${e.disabledReason ?? ''}`);
        });
      }),
    );
  webhooks
    .command('enable <id>')
    .description('send to an endpoint again, what queued meanwhile first')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, o: { account: string; json?: boolean }) => {
        const endpointId = parseId(id, `not an endpoint id: ${id}`, 'id');
        await asAccount(o.account, async (core, ctx) => {
          const e = await core.webhooks.enable(ctx, endpointId);
          print(o.json, e, () => `enabled endpoint ${e.id}`);
        });
      }),
    );
  webhooks
    .command('attempts')
    .description('the newest delivery attempts, newest first')
    .requiredOption('--account <slug>', 'the account')
    .option('--endpoint <id>', 'only this endpoint')
    .option('--failed', 'only failed attempts')
    .option('--limit <n>', 'at most this many (1 to 1000)', '50')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; endpoint?: string; failed?: boolean; limit: string; json?: boolean }) => {
        const endpointId = o.endpoint === undefined ? null : parseId(o.endpoint, `not an endpoint id: ${o.endpoint}`, 'endpoint');
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.webhooks.attempts(ctx, { endpointId, failedOnly: !!o.failed, limit: Number(o.limit) });
          print(o.json, rows, () =>
            rows.length
              ? table(
                  ['ID', 'ENDPOINT', 'AT', 'WEBHOOK-ID', 'KIND', 'RESULT', 'MS', 'MESSAGE', 'RESPONSE'],
                  rows.map((a) => [
                    String(a.id),
                    String(a.endpoint_id),
                    iso(a.attempted_at),
                    a.msg_id,
                    a.kind,
                    a.ok ? `ok ${a.status_code}` : (a.error ?? 'failed'),
                    String(a.duration_ms),
                    a.state,
                    (a.response ?? '').replace(/\s+/g, ' ').slice(0, 60),
                  ]),
                )
              : '(no attempts)',
          );
        });
      }),
    );
  webhooks
    .command('replay <attempt-id>')
    .description("send an attempt's message again now, under the same webhook-id")
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, o: { account: string; json?: boolean }) => {
        const attemptId = parseId(id, `not an attempt id: ${id}`, 'id');
        await asAccount(o.account, async (core, ctx) => {
          const r = await core.webhooks.replay(ctx, attemptId);
          print(o.json, r, () => `replaying ${r.msgId} to endpoint ${r.endpointId}`);
        });
      }),
    );
}
