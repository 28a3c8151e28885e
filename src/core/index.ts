/**
 * The core API: one object of async functions, each taking the call context first.
 * Adapters call only this; they never import db/.
 */
import type { Store } from '../db/store.js';
import { accountsService } from './accounts/service.js';
import { bouncesService, type BounceObserver } from './bounces/service.js';
import { healthService } from './health/service.js';
import { suppressionsService } from './suppressions/service.js';
import { listsService } from './lists/service.js';
import { reportsService } from './reports/service.js';
import { transactionalService } from './transactional/service.js';
import { sendWaker } from './transactional/wake.js';
import { mailingsService } from './mailings/service.js';
import type { MessageCodec } from './mailings/message.js';
import { recipientsService } from './recipients/service.js';
import { unsubscribeService } from './unsubscribe/service.js';
import { unsubscribeListsService } from './unsubscribe/lists.js';
import { subscriptionsService } from './subscriptions/service.js';
import { tasksService } from './tasks/service.js';
import { importsService } from './imports/service.js';
import { newslettersService } from './newsletters/service.js';
import { workersService } from './workers/service.js';
import { outboxService } from './outbox/service.js';
import { webhooksService } from './webhooks/service.js';
import { membersService } from './lists/members.js';
import { segmentsService } from './lists/segments.js';
import { trackingService, type TrackingSettings } from './tracking/service.js';
import { operatorsService } from './operators/service.js';
import { overviewService } from './overview/service.js';

export interface CoreDeps {
  store: Store;
  /** Whole messages: composition and edits (src/mime). */
  messages: MessageCodec;
  /** The installation's HMAC secret: feed cursors, recipient tokens. */
  cursorSecret: Buffer;
  maxRecipientsPerCall: number;
  sendLanes: number;
  workerStaleSeconds: number;
  /** Links in messages (confirmation links) start with it. */
  publicUrl: string;
  /** The built-in messages are sent from noreply@ it. */
  bounceDomain: string;
  confirmLinkDays: number;
  /** Told of late bounces and complaints recorded (the composition root fills it in once the metrics exist). */
  bounceObserver?: BounceObserver;
  /** Hosted tracking's verdict rules (default: verdict.ts's defaults). */
  tracking?: TrackingSettings;
  /** A transactional send's job could not be woken after its commit (the worker's sweep wakes it later). */
  wakeFailed?: (sendId: number, e: unknown) => void;
}

export function makeCore(deps: CoreDeps) {
  const services = {
    accounts: accountsService({ accounts: deps.store.accounts, apiKeys: deps.store.apiKeys }),
    mailings: mailingsService({ store: deps.store, messages: deps.messages, sendLanes: deps.sendLanes, workerStaleSeconds: deps.workerStaleSeconds }),
    recipients: recipientsService({
      store: deps.store,
      cursorSecret: deps.cursorSecret,
      maxPerCall: deps.maxRecipientsPerCall,
      sendLanes: deps.sendLanes,
    }),
    unsubscribe: unsubscribeService({ unsubscribes: deps.store.unsubscribes, secret: deps.cursorSecret }),
    bounces: bouncesService({ store: deps.store, ...(deps.bounceObserver ? { observer: deps.bounceObserver } : {}) }),
    suppressions: suppressionsService({ store: deps.store }),
    lists: listsService({ store: deps.store }),
    reports: reportsService({ store: deps.store, bounceDomain: deps.bounceDomain }),
    tasks: tasksService({ store: deps.store }),
    unsubscribeLists: unsubscribeListsService({ store: deps.store }),
    imports: importsService({ store: deps.store }),
    segments: segmentsService({ store: deps.store }),
    newsletters: newslettersService({ store: deps.store, messages: deps.messages, sendLanes: deps.sendLanes, publicUrl: deps.publicUrl }),
    workers: workersService({ store: deps.store, staleSeconds: deps.workerStaleSeconds }),
    outbox: outboxService({ store: deps.store, messages: deps.messages }),
    webhooks: webhooksService({ store: deps.store, bounceDomain: deps.bounceDomain }),
    tracking: trackingService({ store: deps.store, secret: deps.cursorSecret, settings: deps.tracking }),
    operators: operatorsService({ store: deps.store }),
  };
  const transactional = transactionalService({
    store: deps.store,
    mailings: services.mailings,
    lists: services.lists,
    recipients: services.recipients,
    bounceDomain: deps.bounceDomain,
    waker: sendWaker({
      enqueue: (sendId) => deps.store.jobs.wakeSend(sendId, deps.sendLanes),
      failed: (sendId, e) => deps.wakeFailed?.(sendId, e),
    }),
  });
  const subscriptions = subscriptionsService({
    store: deps.store,
    lists: services.lists,
    mailings: services.mailings,
    transactional,
    secret: deps.cursorSecret,
    publicUrl: deps.publicUrl,
    bounceDomain: deps.bounceDomain,
    confirmLinkDays: deps.confirmLinkDays,
  });
  const members = membersService({ store: deps.store, subscriptions });
  const overview = overviewService({ store: deps.store, mailings: services.mailings, recipients: services.recipients, suppressions: services.suppressions });
  /** `/healthz`: the database, the migrations, live workers and their relays. */
  const healthChecks = healthService({ store: deps.store, staleSeconds: deps.workerStaleSeconds });
  const health = () => healthChecks.check();
  return { ...services, transactional, subscriptions, members, overview, health };
}
export type Core = ReturnType<typeof makeCore>;
export type { CallContext } from './context.js';
