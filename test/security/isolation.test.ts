/**
 * Tenant isolation, enumerated from the code's own tables (test/badinput/dialects.ts): accounts A and B each
 * make one of every object through the dialects; then every endpoint is called with A's key naming B's
 * objects in every id-shaped parameter (and, for Sender, B's account in the path). Each answer must be the
 * dialect's not-found or forbidden (or, where the name is one of A's own namespace, an answer about A's own
 * objects), must not hold anything of B's, and nothing of B's may change: a snapshot of B's rows (every table
 * with an account, and the tables hanging off them) before and after each call.
 *
 * An id-shaped parameter the map below does not know fails the test: a new endpoint is covered, a new kind of
 * id must be given a value of B's.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signRecipientToken } from '../../src/core/delivery/tokens.js';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { changedTables, snapshotReader, type Snapshot } from '../support/snapshot.js';
import { waitFor } from '../support/wait.js';
import { endpoints, pathParams, verdict, type Dialect, type Endpoint } from '../badinput/dialects.js';
import { PythonXmlRpc, send, smtpData, type Outcome } from '../badinput/wire.js';

let gw: TestGateway;
let python: PythonXmlRpc;

interface Key {
  id: number;
  secret: string;
  account: string;
  accountId: number;
}
/** One account's objects, each made through a dialect. */
interface Objects {
  key: Key;
  tag: string;
  /** CloudMailing: a mailing and its recipient's id. */
  mailing: number;
  recipient: string;
  /** Mailkit: a list, its subscriber (ID_email), a campaign, a message sent with sendmail (ID_send, ID_send_message). */
  mkList: number;
  mkSubscriber: number;
  campaign: { id: number; name: string };
  sendId: number;
  messageId: number;
  /** Sender: a list (slug), a subscriber address, a bulk task, a transactional message, an unsubscribe list. */
  senderList: string;
  senderEmail: string;
  task: string;
  senderMessage: string;
  unsubscribeList: string;
  /** Emailicious: a list, its subscriber, a mailing. */
  eList: number;
  eSubscriber: number;
  eMailing: number;
  /** The capture: a message of this account's. */
  captured: number;
}
let A: Objects;
let B: Objects;

async function call(o: {
  dialect: Dialect;
  key: Key;
  method: string;
  path: string;
  json?: unknown;
  xml?: { fn: string; params: unknown[] };
}): Promise<Outcome> {
  if (o.xml) {
    const url = new URL(o.path, gw.url);
    if (o.dialect === 'cloudmailing') [url.username, url.password] = ['admin', o.key.secret];
    const params = o.dialect === 'mailkit-xmlrpc' ? [String(o.key.id), o.key.secret, ...o.xml.params] : o.xml.params;
    return await python.call(url.toString(), o.xml.fn, params, { allowNone: o.dialect === 'mailkit-xmlrpc' });
  }
  const headers: Record<string, string> = {};
  if (o.dialect === 'jsonrpc') headers.authorization = basicAuthHeader(o.key.secret);
  if (o.dialect === 'sender') headers.authorization = basicAuthHeader('', o.key.secret);
  if (o.dialect === 'emailicious') headers.authorization = basicAuthHeader(o.key.secret, 'me@example.org');
  if (o.dialect === 'admin') headers.authorization = basicAuthHeader(o.key.secret, 'any');
  if (o.json !== undefined) headers['content-type'] = 'application/json';
  return await send(gw.url, { method: o.method, path: o.path, headers, ...(o.json !== undefined ? { body: JSON.stringify(o.json) } : {}) });
}

/** The body of a successful answer (a fixture call that fails stops the test). */
function ok(o: Outcome, what: string): string {
  assert.ok(!('failed' in o), `${what}: ${JSON.stringify(o)}`);
  assert.ok(o.status < 300, `${what}: ${o.status} ${o.body}`);
  return o.body;
}
const jsonOf = (o: Outcome, what: string) => JSON.parse(ok(o, what)) as Record<string, unknown> & { result?: unknown; data?: unknown; id?: number };
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function makeObjects(key: Key, tag: string): Promise<Objects> {
  const Tag = tag[0]!.toUpperCase() + tag.slice(1);
  const secret = `${Tag}-Secret`;
  const domain = `${tag}.example`;
  const rpc = async (method: string, params: unknown[]) =>
    jsonOf(await call({ dialect: 'jsonrpc', key, method: 'POST', path: '/jsonrpc', json: { jsonrpc: '2.0', id: 1, method, params } }), method).result;
  const mk = async (fn: string, parameters: Record<string, unknown>) => {
    const r = jsonOf(
      await call({ dialect: 'mailkit-json', key, method: 'POST', path: '/json.fcgi', json: { function: fn, id: String(key.id), md5: key.secret, parameters } }),
      fn,
    );
    assert.notEqual(r.error_status, 1, `${fn}: ${JSON.stringify(r)}`);
    return r;
  };
  const sender = async (method: string, p: string, json?: unknown) =>
    jsonOf(await call({ dialect: 'sender', key, method, path: `/api/0/${key.account}${p}`, json }), `${method} ${p}`);
  const emailicious = async (p: string, json: unknown) =>
    jsonOf(await call({ dialect: 'emailicious', key, method: 'POST', path: `/api/v1${p}`, json }), `POST ${p}`);

  const mailing = (await rpc('create_mailing', [`news@${domain}`, `${secret} sender`, `${secret} subject`, `<p>${secret}</p>`, secret, 'utf-8'])) as number;
  const [added] = (await rpc('add_recipients', [mailing, [{ email: `carl@${domain}`, name: `${secret} Carl` }]])) as { id: string }[];

  const mkList = Number((await mk('mailkit.mailinglist.create', { name: `${secret} list`, description: secret })).data);
  const mkSubscriber = Number(
    (await mk('mailkit.mailinglist.adduser', { ID_user_list: mkList, personal: { email: `ann@${domain}`, first_name: `${secret} Ann` } })).data,
  );
  const senders = (await mk('mailkit.profile.emails.list', {})) as unknown as { emails: { ID_ALLOW_EMAIL: number; EMAIL: string }[] };
  const senderIdValue = String(senders.emails.find((e) => e.EMAIL === `news@${domain}`)?.ID_ALLOW_EMAIL);
  const campaignName = `${tag}-campaign`;
  const campaign = Number(
    (
      await mk('mailkit.campaigns.create', {
        name: b64(campaignName),
        ID_allow_email: senderIdValue,
        subject: b64(`${secret} campaign`),
        content: b64(`<p>${secret}</p>`),
      })
    ).ID_message,
  );
  const sent = await mk('mailkit.sendmail', {
    mailinglist_id: mkList,
    campaign_id: campaign,
    main: { send_to: `dan@${domain}`, subject: `${secret} message` },
  });

  const senderList = `${tag}-news`;
  await sender('PUT', `/maillist/${senderList}`, { title: `${secret} sender list` });
  await sender('PUT', `/maillist/${senderList}/subscription`, { email: `eve@${domain}`, params: { name: `${secret} Eve` } });
  const task = (
    (await sender('PUT', `/maillist/${senderList}/subscription/bulk`, [{ email: `fay@${domain}`, params: { name: `${secret} Fay` } }])).result as {
      task_id: string;
    }
  ).task_id;
  const senderMessage = (
    (await sender('POST', `/transactional/${campaignName}/send`, { to_email: `gil@${domain}`, args: { n: secret } })).result as { message_id: string }
  ).message_id;
  const unsubscribeList = `${tag}-unsubs`;
  await gw.core.unsubscribeLists.create({ accountId: key.accountId, requestId: 'fixtures' }, { slug: unsubscribeList, name: `${secret} unsubscribe list` });
  await sender('PUT', `/unsubscribe/list/${unsubscribeList}`, { email: `ida@${domain}` });

  const eList = (await emailicious('/lists', { name: `${secret} E list`, default_from_email: `news@${domain}` })).id!;
  const eSubscriber = (await emailicious(`/lists/${eList}/subscribers`, { email: `hal@${domain}`, first_name: `${secret} Hal` })).id!;
  const eMailing = (
    await emailicious('/mailings', {
      list: eList,
      name: `${secret} mailing`,
      variants: [{ subject: `${secret} E subject`, layout: { text: `${secret}` }, deliveries: [] }],
    })
  ).id!;

  // A bounce of the message sendmail sent, through the listener, to its VERP address.
  const messageId = Number(sent.data3);
  const dsn = await readFile(path.join(import.meta.dirname, '../bounces/fixtures/postfix-5.1.1.eml'));
  const verp = `bounces+${signRecipientToken(gw.services.secret, messageId)}@bounces.mailgate.test`;
  const bounced = await smtpData(gw.bouncePort, verp, dsn);
  assert.ok(!('failed' in bounced) && bounced.status === 250, JSON.stringify(bounced));

  let captured = 0;
  await waitFor(`a captured message of ${tag}`, async () => {
    const { rows } = await gw.pool.query<{ id: number }>('SELECT id FROM captured_messages WHERE account_id = $1 ORDER BY id LIMIT 1', [key.accountId]);
    captured = rows[0]?.id ?? 0;
    return captured > 0;
  });
  return {
    key,
    tag,
    mailing,
    recipient: added!.id,
    mkList,
    mkSubscriber,
    campaign: { id: campaign, name: campaignName },
    sendId: Number(sent.data2),
    messageId,
    senderList,
    senderEmail: `eve@${domain}`,
    task,
    senderMessage,
    unsubscribeList,
    eList,
    eSubscriber,
    eMailing,
    captured,
  };
}

/**
 * Nothing of the pipeline still at work: every transactional message final (the CloudMailing mailings are not
 * started, their recipients stay READY), every bulk task applied.
 */
async function quiet(): Promise<void> {
  await waitFor('the pipeline at rest', async () => {
    const { rows } = await gw.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM recipients r JOIN mailings m ON m.id = r.mailing_id WHERE m.name IS NOT NULL AND r.status IN ('ready', 'warning'))::int
            + (SELECT count(*) FROM tasks WHERE status IN ('pending', 'started'))::int AS n`,
    );
    return rows[0]!.n === 0;
  });
}

before(async () => {
  gw = await startTestGateway({ worker: true });
  python = new PythonXmlRpc();
  const keyOf = async (k: { id: number; secret: string; account: string }): Promise<Key> => ({
    ...k,
    accountId: (await gw.core.accounts.authenticate(k.secret))!.accountId,
  });
  const a = await keyOf(gw.key);
  const b = await keyOf(await gw.core.accounts.createKey('bravo', 'the other account'));
  A = await makeObjects(a, 'alpha');
  await quiet();
  // B's ids far from A's: a number of B's never names an object of A's (ids of different kinds share a
  // parameter, Mailkit's ID_email names a subscriber or a message), so an answer about it is about B's.
  const { rows: sequences } = await gw.pool.query<{ name: string }>(`SELECT sequencename AS name FROM pg_sequences WHERE schemaname = 'public'`);
  for (const { name } of sequences) await gw.pool.query(`SELECT setval($1, 1000000 + nextval($1))`, [`public.${name}`]);
  B = await makeObjects(b, 'bravo');
  await quiet();
});
after(async () => {
  python?.close();
  await gw?.stop();
});

// ------------------------------------------------------------------------------------- B's ids, by name

/**
 * The value of B's for every id-shaped parameter, by the name the tables give it. A parameter whose name looks
 * like an id and is not here fails the test (`idShaped`).
 */
const B_IDS = {
  /** CloudMailing */
  mailing_id: () => B.mailing,
  recipient_ids: () => [B.recipient],
  domain_name: () => 'bravo.example',
  /** Mailkit */
  ID_message: () => B.campaign.id,
  campaign_id: () => B.campaign.id,
  ID_send: () => B.sendId,
  ID_user_list: () => B.mkList,
  mailinglist_id: () => B.mkList,
  ID_email: () => B.mkSubscriber,
  ID_EMAIL: () => B.mkSubscriber,
  email_id: () => B.mkSubscriber,
  ID_send_message: () => B.messageId,
  ID_SEND_MESSAGE: () => B.messageId,
  /** Sender (path) */
  list: (d: Dialect) => (d === 'sender' ? B.senderList : B.eList),
  task: () => B.task,
  campaign: (d: Dialect) => (d === 'sender' ? B.campaign.name : B.campaign.id),
  slug: () => B.unsubscribeList,
  email: () => B.senderEmail,
  /** Emailicious (path and body) */
  subscriber: () => B.eSubscriber,
  mailing: () => B.eMailing,
  segments: () => [B.eList],
  /** The admin pages */
  id: () => B.captured,
} as const satisfies Record<string, (d: Dialect) => unknown>;
type IdName = keyof typeof B_IDS;

/**
 * Parameters that look like ids but are not an object's: where a log page starts (with A's key it pages A's
 * log: B's rows must not be in the answer, which is checked), and the caller's own account (Sender's path:
 * B's account is its own call).
 */
const NOT_OBJECT_IDS = new Set(['ID_undelivered_log', 'ID_UNDELIVERED_LOG', 'ID_log', 'ID_LOG', 'account']);
const ID_SHAPED = /(^id$|^ID_|_id$|_ids$|^(list|task|campaign|slug|email|subscriber|mailing|segments|domain_name)$)/;

function idShaped(name: string): IdName | undefined {
  if (NOT_OBJECT_IDS.has(name) || !ID_SHAPED.test(name)) return undefined;
  if (!(name in B_IDS)) throw new Error(`the id-shaped parameter ${name} has no value of B's: add it to B_IDS`);
  return name as IdName;
}

/** Values for the other parameters: plausible, so that a call that reached B's object would act on it. */
const OTHER: Record<string, unknown> = {
  properties: { subject: 'Changed by A' },
  recipients: [{ email: 'added-by-a@alpha.example' }],
  options: { with_contact_data: true },
  cursor: '',
  max_results: 100,
  filter: {},
  confirm: 'FALSE',
  personal: { email: 'edited-by-a@alpha.example', first_name: 'Changed by A' },
  address: {},
  custom: {},
  keep_values: 'TRUE',
  keep_list: 'FALSE',
  main: { send_to: 'sent-by-a@alpha.example', subject: 'by A' },
  limit: 100,
  range_from: '2000-01-01',
  range_to: '2100-01-01',
};

interface Probe {
  endpoint: Endpoint;
  /** What it names of B's, for the table. */
  names: string;
  run(): Promise<Outcome>;
  /** The request, so that B's data it carries itself is not taken for a leak. */
  request: string;
}

/** Every call of an endpoint with B's ids; none when it takes no object id. */
function probes(ep: Endpoint): Probe[] {
  const key = A.key;
  switch (ep.dialect) {
    case 'cloudmailing':
    case 'jsonrpc': {
      const ids = ep.params.filter((p) => idShaped(p.name));
      const filters = ep.params.filter((p) => p.name === 'filter');
      if (!ids.length && !filters.length) return [];
      const variants: Record<string, unknown>[] = [];
      if (ids.length) variants.push(Object.fromEntries(ids.map((p) => [p.name, B_IDS[idShaped(p.name)!](ep.dialect)])));
      // A filter names B's mailings by id, by its sender's domain, by its owner.
      for (const f of [{ id: [B.mailing] }, { mailings: [B.mailing] }, { domain: ['bravo.example'] }, { sender_domains: ['bravo.example'] }, 'bravo.example'])
        if (filters.length) variants.push({ filter: f });
      return variants.map((v) => {
        const params = ep.params.map((p) =>
          p.name in v
            ? v[p.name]
            : p.optional
              ? undefined
              : (OTHER[p.name] ?? (p.types[0] === 'int' ? 0 : p.types[0] === 'struct' ? {} : p.types[0] === 'array' ? [] : 'x')),
        );
        while (params.length && params[params.length - 1] === undefined) params.pop();
        const args = params.map((x) => x ?? '');
        const request = JSON.stringify(args);
        return {
          endpoint: ep,
          names: Object.keys(v).join(', '),
          request,
          run: () =>
            ep.dialect === 'cloudmailing'
              ? call({ dialect: ep.dialect, key, method: 'POST', path: '/CloudMailing', xml: { fn: ep.name, params: args } })
              : call({ dialect: ep.dialect, key, method: 'POST', path: '/jsonrpc', json: { jsonrpc: '2.0', id: 1, method: ep.name, params: args } }),
        };
      });
    }
    case 'mailkit-json':
    case 'mailkit-xmlrpc': {
      const names = [...ep.params, ...Object.keys(ep.aliases)];
      const ids = names.filter((n) => idShaped(n));
      const logs = ep.params.filter((n) => NOT_OBJECT_IDS.has(n));
      if (!ids.length && !logs.length) return [];
      const args: Record<string, unknown> = Object.fromEntries(
        ep.params.map((n) => [n, idShaped(n) ? B_IDS[idShaped(n)!](ep.dialect) : NOT_OBJECT_IDS.has(n) ? 0 : (OTHER[n] ?? '')]),
      );
      // A parameter JSON clients name only (an alias' target the XML-RPC positions lack) names B's too.
      if (ep.dialect === 'mailkit-json') for (const n of Object.values(ep.aliases)) if (!(n in args) && idShaped(n)) args[n] = B_IDS[idShaped(n)!](ep.dialect);
      return [
        {
          endpoint: ep,
          names: [...ids.filter((n) => ep.params.includes(n)), ...logs].join(', '),
          request: JSON.stringify(args),
          run: () =>
            ep.dialect === 'mailkit-json'
              ? call({
                  dialect: ep.dialect,
                  key,
                  method: 'POST',
                  path: '/json.fcgi',
                  json: { function: ep.name, id: String(key.id), md5: key.secret, parameters: args },
                })
              : call({ dialect: ep.dialect, key, method: 'POST', path: '/rpc.fcgi', xml: { fn: ep.name, params: ep.params.map((n) => args[n]) } }),
        },
      ];
    }
    case 'sender':
    case 'emailicious':
    case 'admin': {
      const inPath = pathParams(ep.path).filter((n) => idShaped(n));
      const writes = ['PUT', 'POST', 'PATCH', 'DELETE'].includes(ep.method);
      const inBody = writes
        ? Object.entries(ep.fields ?? {})
            .filter(([n, spec]) => !spec.read_only && idShaped(n))
            .map(([n]) => n)
        : [];
      const out: Probe[] = [];
      const fill = (account: string) =>
        ep.path.replace(/:([A-Za-z_]+)/g, (_, n: string) => (n === 'account' ? account : encodeURIComponent(String(B_IDS[idShaped(n)!](ep.dialect)))));
      const body = writes
        ? ep.dialect === 'emailicious'
          ? {
              name: 'Changed by A',
              email: 'changed-by-a@alpha.example',
              first_name: 'Changed by A',
              ...Object.fromEntries(inBody.map((n) => [n, B_IDS[idShaped(n)!](ep.dialect)])),
            }
          : { title: 'Changed by A', params: { name: 'Changed by A' } }
        : undefined;
      if (ep.dialect === 'sender') {
        const p = fill(B.key.account);
        out.push({
          endpoint: ep,
          names: ['account', ...inPath].join(', '),
          request: p,
          run: () => call({ dialect: 'sender', key, method: ep.method, path: p, json: body }),
        });
      }
      if (inPath.length || inBody.length) {
        const p = fill(A.key.account);
        out.push({
          endpoint: ep,
          names: [...inPath, ...inBody].join(', '),
          request: p + JSON.stringify(body ?? {}),
          run: () => call({ dialect: ep.dialect, key, method: ep.method, path: p, json: body }),
        });
      }
      if (ep.dialect === 'emailicious' && ep.method === 'GET' && ep.path.endsWith('/mailings')) {
        const p = `${ep.path}?list=${B.eList}`;
        out.push({ endpoint: ep, names: 'list (query)', request: p, run: () => call({ dialect: 'emailicious', key, method: 'GET', path: p }) });
      }
      if (ep.dialect === 'admin' && !inPath.length) {
        const p = `${ep.path}?before=${B.captured + 1}`;
        out.push({ endpoint: ep, names: 'before (query)', request: p, run: () => call({ dialect: 'admin', key, method: 'GET', path: p }) });
      }
      return out;
    }
    case 'links':
      return [];
  }
}

/** The call of an endpoint that takes no object id, without parameters (A's own view). */
function bare(ep: Endpoint): Probe {
  const key = A.key;
  const run = (): Promise<Outcome> => {
    switch (ep.dialect) {
      case 'cloudmailing':
        return call({ dialect: ep.dialect, key, method: 'POST', path: '/CloudMailing', xml: { fn: ep.name, params: [] } });
      case 'jsonrpc':
        return call({ dialect: ep.dialect, key, method: 'POST', path: '/jsonrpc', json: { jsonrpc: '2.0', id: 1, method: ep.name, params: [] } });
      case 'mailkit-json':
        return call({
          dialect: ep.dialect,
          key,
          method: 'POST',
          path: '/json.fcgi',
          json: { function: ep.name, id: String(key.id), md5: key.secret, parameters: {} },
        });
      case 'mailkit-xmlrpc':
        return call({ dialect: ep.dialect, key, method: 'POST', path: '/rpc.fcgi', xml: { fn: ep.name, params: [] } });
      default:
        return call({
          dialect: ep.dialect,
          key,
          method: ep.method,
          path: ep.path.replace(':account', key.account),
          ...(ep.method === 'GET' ? {} : { json: {} }),
        });
    }
  };
  return { endpoint: ep, names: '(none: called bare)', request: '', run };
}

/** B's data that may show in an answer: every text of B's objects carries `Bravo-Secret` or B's domain. */
const MARKERS = ['Bravo-Secret', 'bravo.example', 'bravo-news', 'bravo-campaign', 'bravo-unsubs'];
const leaks = (answer: string, request: string) => MARKERS.filter((m) => answer.includes(m) && !request.includes(m));

interface Row {
  dialect: Dialect;
  endpoint: string;
  names: string;
  outcome: 'refused' | 'answered without B' | 'leaked' | 'changed B' | 'no object id' | 'failed';
  bare?: boolean;
  detail?: string;
}
const rows: Row[] = [];

describe("tenant isolation: A's key, B's ids, every endpoint", () => {
  let readB: () => Promise<Snapshot>;
  let state: Snapshot;
  before(async () => {
    const b = B.key.accountId;
    readB = await snapshotReader(gw.pool, {
      schemas: ['public'],
      where: (table, columns) => {
        if (columns.includes('account_id')) return `account_id = ${b}`;
        if (table === 'public.accounts') return `id = ${b}`;
        if (table === 'public.variants' || table === 'public.mailing_unsubscribe_lists')
          return `mailing_id IN (SELECT id FROM mailings WHERE account_id = ${b})`;
        if (table === 'public.layout_images')
          return `variant_id IN (SELECT v.id FROM variants v JOIN mailings m ON m.id = v.mailing_id WHERE m.account_id = ${b})`;
        if (table === 'public.unsubscribe_list_entries') return `unsubscribe_list_id IN (SELECT id FROM unsubscribe_lists WHERE account_id = ${b})`;
        // Not an account's: the schema's bookkeeping, the workers' heartbeats, settings.
        return null;
      },
    });
    state = await readB();
  });

  for (const ep of endpoints()) {
    it(`${ep.dialect} ${ep.name}`, async () => {
      if (ep.dialect === 'links') {
        // Not an account's: the token is the credential (forged tokens are in the bad-input corpus).
        rows.push({ dialect: ep.dialect, endpoint: ep.name, names: '', outcome: 'no object id' });
        return;
      }
      // No object id: called without parameters, its answer still must hold nothing of B's.
      const list = probes(ep);
      if (!list.length) list.push(bare(ep));
      for (const p of list) {
        const o = await p.run();
        const now = await readB();
        const changed = changedTables(state, now);
        state = now;
        const v = verdict(ep.dialect, o);
        const body = 'failed' in o ? '' : o.body;
        const leaked = leaks(body, p.request);
        // A success is right where B's id reads as a filter that matches nothing of A's (an empty page, a count),
        // or names something of A's own (a Sender slug is a name in A's namespace; a number may be an id of A's):
        // it must hold nothing of B's and change nothing of B's.
        const outcome: Row['outcome'] = changed.length
          ? 'changed B'
          : leaked.length
            ? 'leaked'
            : v === 'error'
              ? 'refused'
              : v === 'success'
                ? 'answered without B'
                : 'failed';
        rows.push({
          dialect: ep.dialect,
          endpoint: ep.name,
          names: p.names,
          outcome,
          bare: p.names.startsWith('(none'),
          detail: `${'failed' in o ? o.failed : o.status} ${body.slice(0, 200)}`,
        });
        const what: string = `${ep.dialect} ${ep.name} naming B's ${p.names}`;
        assert.deepEqual(changed, [], `${what}: B's data changed`);
        assert.deepEqual(leaked, [], `${what}: B's data in the answer: ${body.slice(0, 500)}`);
        assert.ok(v === 'error' || v === 'success', `${what}: ${v}: ${body.slice(0, 500)}`);
        if (v === 'error' && !('failed' in o) && (ep.dialect === 'sender' || ep.dialect === 'emailicious' || ep.dialect === 'admin'))
          assert.ok([400, 403, 404].includes(o.status), `${what}: ${o.status}`);
      }
    });
  }

  it('the summary', (t) => {
    const head = [
      'dialect',
      'endpoints',
      'calls tried',
      'refused (not found / forbidden)',
      'answered, nothing of B',
      'leaked',
      'changed B',
      'no object id (called bare; by construction)',
    ];
    const table: string[][] = [head];
    for (const d of [...new Set(rows.map((r) => r.dialect))]) {
      const rs = rows.filter((r) => r.dialect === d);
      const calls = rs.filter((r) => r.outcome !== 'no object id');
      table.push([
        d,
        String(new Set(rs.map((r) => r.endpoint)).size),
        String(calls.length),
        String(calls.filter((r) => r.outcome === 'refused').length),
        String(calls.filter((r) => r.outcome === 'answered without B').length),
        String(calls.filter((r) => r.outcome === 'leaked').length),
        String(calls.filter((r) => r.outcome === 'changed B').length),
        rs
          .filter((r) => r.outcome === 'no object id' || r.bare)
          .map((r) => r.endpoint)
          .join('; ') || '-',
      ]);
    }
    const answered = rows
      .filter((r) => r.outcome === 'answered without B' && !r.bare)
      .map((r) => `${r.dialect} ${r.endpoint} (${r.names}): ${r.detail?.slice(0, 80)}`);
    const text =
      'tenant isolation\n' +
      table.map((r) => '| ' + r.join(' | ') + ' |').join('\n') +
      "\n\nanswered, nothing of B's (naming B's ids):\n" +
      answered.join('\n');
    t.diagnostic(text);
    console.log(text);
    assert.deepEqual(
      rows.filter((r) => !['refused', 'answered without B', 'no object id'].includes(r.outcome)),
      [],
    );
  });
});
