/**
 * The `send` task: work through one send's due recipients, batch by batch, as named steps:
 *   load the send -> start it when due -> [deadline -> pace -> claim -> (reload on a change) -> suppress ->
 *   render -> deliver -> record]* -> wrap up.
 *
 * A job runs for a time slice (SLICE_MS) and then re-enqueues itself, so one huge mailing never pins a worker
 * slot and a paused, deleted or re-timed mailing is noticed quickly. Nothing here holds a transaction across
 * SMTP: the claim is a committed lease, the outcomes are one short transaction per batch.
 */
import type { Task } from 'graphile-worker';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { emailKey } from '../core/email.js';
import { attemptOutcome } from '../core/delivery/outcome.js';
import { paceQuota } from '../core/delivery/pacing.js';
import { retryPolicy } from '../core/delivery/retry.js';
import { skippedBecause } from '../core/suppressions/service.js';
import type { BounceCategory } from '../core/bounces/classify.js';
import type { ClaimedRecipient, DeliveryRepo, Outcome, SendContext } from '../db/delivery.js';
import type { RecipientStatus } from '../db/statuses.js';
import { buildMessage, compileMailing, type CompiledMailing, type MessageSettings } from './message.js';
import type { Relays } from './smtp.js';

export interface SendPayload {
  sendId: number;
  testOnly?: boolean;
}

declare global {
  namespace GraphileWorker {
    interface Tasks {
      send: SendPayload;
    }
  }
}

/** How long one job works before handing over to a fresh job of the same key. */
export const SLICE_MS = 20_000;
/**
 * While every relay is unreachable the send is put off and the relay probed: after 250 ms, doubling, at most
 * 2 s, so sending resumes within seconds of the relay's return. Recipients are not touched meanwhile: a relay
 * down for everyone is no recipient's try (see Relays in ./smtp.ts).
 */
const RELAY_DOWN_MIN_MS = 250;
const RELAY_DOWN_MAX_MS = 2_000;

/** Leased batches being sent right now, so the heartbeat can keep their leases alive. */
export class InFlight {
  private readonly batches = new Map<object, { ids: number[]; since: number }>();
  add(ids: number[]): object {
    const token = {};
    this.batches.set(token, { ids, since: Date.now() });
    return token;
  }
  remove(token: object): void {
    this.batches.delete(token);
  }
  /** Ids of batches out for longer than `ms`. */
  olderThan(ms: number): number[] {
    const limit = Date.now() - ms;
    return [...this.batches.values()].filter((b) => b.since < limit).flatMap((b) => b.ids);
  }
  all(): number[] {
    return [...this.batches.values()].flatMap((b) => b.ids);
  }
}

/** One recipient's outcome as recorded (a row whose lease was lost is not reported). */
export interface RecordedOutcome {
  /** As written: a temporary failure past its retry limit is `timeout` here. */
  status: RecipientStatus;
  tried: boolean;
  /** The relay that answered (host:port), null when none was tried. */
  relay: string | null;
  /** The bounce row this outcome added (a refusal by the relay), else null. */
  bounce: { kind: 'permanent' | 'temporary'; category: BounceCategory } | null;
}

/** What the send task reports as it goes (src/metrics counts it); a report never changes the sending. */
export interface SendObserver {
  /** A batch's outcomes written; `released`: the relay of each recipient given back untried; `seconds`: claim to record. */
  batchRecorded(batch: { outcomes: RecordedOutcome[]; released: string[]; seconds: number }): void;
  /** The send was put off instead of sending: by its pacing, or because every relay is unreachable. */
  putOff(reason: 'pacing' | 'relay_down'): void;
}

export interface SendDeps {
  delivery: DeliveryRepo;
  relays: Relays;
  config: Config;
  logger: Logger;
  workerId: string;
  settings: MessageSettings;
  inFlight: InFlight;
  /** True once stop() was called: finish the batch in hand, hand the send over, return. */
  isStopping(): boolean;
  /** Number of relays (SMTP_RATE is per relay). */
  relayCount: number;
  observer?: SendObserver;
}

interface BatchResult {
  tried: number;
  unreachable: number;
}

export function makeSendTask(deps: SendDeps): Task<'send'> {
  const { delivery, config, logger } = deps;
  let relayDownStreak = 0;
  /** Per send: the relays' recovery count when its deferrals were last made due again (see dueAgain). */
  const recoverySeen = new Map<number, number>();

  // With a rate cap, a batch is kept to about 10 s of sending so leases and slices stay meaningful.
  const batchSize =
    config.SMTP_RATE > 0 ? Math.max(1, Math.min(config.SEND_BATCH_SIZE, Math.ceil(config.SMTP_RATE * deps.relayCount * 10))) : config.SEND_BATCH_SIZE;

  /** `notAfter`: the send's deadline; a message whose turn on a connection comes after it ends TIMEOUT unsent. */
  async function sendBatch(m: CompiledMailing, batch: ClaimedRecipient[], notAfter: Date | null): Promise<BatchResult> {
    const { ctx } = m;
    const began = performance.now();
    // The optout notice is for an address suppressed by the very unsubscribe it confirms.
    const suppressed =
      ctx.system_role === 'optout'
        ? new Map<string, string>()
        : await delivery.suppressedAmong(ctx.account_id, ctx.mailing_id, [...new Set(batch.map((r) => emailKey(r.email)))]);
    const outcomes: Outcome[] = [];
    const release: number[] = [];
    const releasedVia: string[] = [];
    const categories = new Map<number, BounceCategory>();
    let lastUnreachable = '';
    const token = deps.inFlight.add(batch.map((r) => r.id));
    try {
      await Promise.all(
        batch.map(async (r) => {
          const base = { id: r.id, email: r.email, replyCode: null, enhancedCode: null, remoteMta: null, suppress: false };
          if (r.expires_at && r.expires_at.getTime() <= Date.now()) {
            outcomes.push({ ...base, status: 'timeout', tried: false, replyText: 'expired before it could be sent' });
            return;
          }
          const reason = suppressed.get(emailKey(r.email));
          if (reason) {
            outcomes.push({ ...base, status: 'error', tried: false, replyText: skippedBecause(reason) });
            return;
          }
          let message;
          try {
            message = await buildMessage(m, r, deps.settings, { eightBit: deps.relays.eightBit(ctx.testing) });
          } catch (e) {
            outcomes.push({ ...base, status: 'general_error', tried: false, replyText: `the message cannot be built: ${(e as Error).message}` });
            return;
          }
          const d = await deps.relays.deliver(message, notAfter);
          if (d.kind === 'expired') {
            outcomes.push({ ...base, status: 'timeout', tried: false, replyText: null });
            return;
          }
          if (d.kind === 'unreachable') {
            release.push(r.id);
            releasedVia.push(d.remoteMta);
            lastUnreachable = `${d.remoteMta}: ${d.text}`;
            return;
          }
          const { status, classification } = attemptOutcome(d.reply);
          categories.set(r.id, classification.category);
          outcomes.push({
            customized: ctx.backup_customized_emails ? message.raw : undefined,
            ...base,
            status,
            tried: true,
            replyCode: d.reply.code,
            enhancedCode: d.reply.enhanced,
            replyText: d.reply.text,
            remoteMta: d.remoteMta,
            // A testing mailing's server (TESTING_SMTP_URL) is a fake: its refusals say nothing of the mailbox.
            suppress: classification.suppress && !ctx.testing,
          });
        }),
      );
      const written = await delivery.recordOutcomes({
        workerId: deps.workerId,
        ctx,
        outcomes,
        release,
        retry: retryPolicy(config, ctx.deadline),
        emailKey,
      });
      deps.observer?.batchRecorded({
        outcomes: outcomes
          .filter((o) => written.has(o.id))
          .map((o) => ({
            status: written.get(o.id)!,
            tried: o.tried,
            relay: o.remoteMta,
            // As recordOutcomes adds bounce rows: a relay's refusal, permanent or temporary.
            bounce:
              o.tried && (o.status === 'error' || o.status === 'warning')
                ? { kind: o.status === 'error' ? 'permanent' : 'temporary', category: categories.get(o.id) ?? 'other' }
                : null,
          })),
        released: releasedVia,
        seconds: (performance.now() - began) / 1000,
      });
    } finally {
      deps.inFlight.remove(token);
    }
    if (release.length)
      logger.warn({ sendId: ctx.send_id, released: release.length, error: lastUnreachable }, 'SMTP relay unreachable; recipients released untried');
    return { tried: outcomes.filter((o) => o.tried).length, unreachable: release.length };
  }

  return async (payload, helpers) => {
    const sendId = Number(payload.sendId);
    const testOnly = !!payload.testOnly;
    const jobKey = helpers.job.key ?? null;
    const requeue = (at: Date | null) => delivery.requeueSend(jobKey, sendId, testOnly, at);

    let ctx = await delivery.loadSend(sendId);
    if (!ctx) return; // mailing deleted
    if (!testOnly) {
      const go = await startStep(ctx, requeue);
      if (!go) return;
    }
    let mailing = await compileMailing(ctx, deps.settings);
    const sliceEnd = Date.now() + SLICE_MS;

    const putOff = async () => {
      const delay = Math.min(RELAY_DOWN_MAX_MS, RELAY_DOWN_MIN_MS * 2 ** relayDownStreak);
      relayDownStreak += 1;
      deps.observer?.putOff('relay_down');
      await requeue(new Date(Date.now() + delay));
    };

    for (;;) {
      if (deps.isStopping() || helpers.abortSignal?.aborted || Date.now() >= sliceEnd) {
        await requeue(null);
        return;
      }
      // A relay found down: nothing is claimed until a probe gets an answer.
      if (!(await deps.relays.reachable(ctx.testing))) {
        await putOff();
        return;
      }
      const recoveries = deps.relays.recoveries();
      if (recoveries > 0 && recoverySeen.get(sendId) !== recoveries) {
        // The relay is back after an outage: what it deferred by dropping connections goes again now.
        if (recoverySeen.size > 10_000) recoverySeen.clear();
        recoverySeen.set(sendId, recoveries);
        const n = await delivery.dueAgain(sendId, testOnly);
        if (n) logger.info({ sendId, recipients: n }, 'SMTP relay back: recipients deferred by lost connections are due again');
      }
      let limit = batchSize;
      if (!testOnly) {
        const deadline = ctx.deadline;
        if (deadline && deadline <= new Date()) {
          await endStep(ctx, requeue);
          return;
        }
        if (ctx.spread_minutes > 0 && ctx.started_at) {
          const counts = await delivery.paceCounts(sendId);
          const q = paceQuota({ startTime: ctx.started_at, durationMinutes: ctx.spread_minutes, ...counts, now: new Date() });
          if (q.nextDue) {
            deps.observer?.putOff('pacing');
            await requeue(deadline && deadline < q.nextDue ? deadline : q.nextDue);
            return;
          }
          // allowed 0 without a due time: everything was tried once; only retries are left, unpaced.
          if (q.allowed > 0) limit = Math.min(limit, q.allowed);
        }
      }
      const claim = await delivery.claimBatch({
        sendId,
        mailingId: ctx.mailing_id,
        workerId: deps.workerId,
        limit,
        leaseSeconds: config.LEASE_SECONDS,
        testOnly,
      });
      const batch = claim.recipients;
      if (!batch.length) {
        await idleStep(ctx, testOnly, requeue);
        return;
      }
      if (claim.rev !== null && claim.rev !== ctx.rev) {
        // Properties or content changed since this job loaded the send: the batch goes out as it now is.
        const fresh = await delivery.loadSend(sendId);
        if (!fresh) {
          await delivery.releaseLeases(
            deps.workerId,
            batch.map((b) => b.id),
          );
          return;
        }
        ctx = fresh;
        mailing = await compileMailing(ctx, deps.settings);
      }
      const r = await sendBatch(mailing, batch, testOnly ? null : ctx.deadline);
      if (r.unreachable && !r.tried) {
        // The relay is down for everyone: put this send off, recipients untouched.
        await putOff();
        return;
      }
      if (r.tried) relayDownStreak = 0;
    }
  };

  /** Is the send sendable now? Starts a READY send whose start has come. */
  async function startStep(ctx: SendContext, requeue: (at: Date | null) => Promise<void>): Promise<boolean> {
    switch (ctx.status) {
      case 'running':
        return true;
      case 'ready': {
        if (ctx.scheduled_start && ctx.scheduled_start > new Date()) {
          await requeue(ctx.scheduled_start);
          return false;
        }
        const now = (await delivery.startIfDue(ctx.send_id)) ?? (await delivery.sendStatus(ctx.send_id));
        if (now?.status !== 'running') return false;
        ctx.status = 'running';
        ctx.started_at = now.started_at;
        ctx.deadline = now.deadline;
        return true;
      }
      case 'finished': {
        // A recipient released after its send ended (relay down at the very end) still gets its final status.
        if (ctx.deadline && ctx.deadline <= new Date()) await delivery.timeoutRemaining(ctx.send_id);
        return false;
      }
      default:
        return false; // paused or still filling: start_mailing enqueues a new job
    }
  }

  /**
   * The deadline has passed: what is left ends TIMEOUT and the send is finished — once the batches still in
   * flight have their outcomes (a temporary failure after the deadline becomes TIMEOUT): until then, look
   * again in a second.
   */
  async function endStep(ctx: SendContext, requeue: (at: Date | null) => Promise<void>): Promise<void> {
    const r = await delivery.closeAtDeadline(ctx.send_id);
    if (r.closed) logger.info({ mailingId: ctx.mailing_id, sendId: ctx.send_id, timedOut: r.timedOut }, 'send reached its deadline');
    else if ((await delivery.sendStatus(ctx.send_id))?.status !== 'finished') await requeue(new Date(Date.now() + 1000));
  }

  /** Nothing claimable: finish, wait for retries or leases, or stop (paused). */
  async function idleStep(ctx: SendContext, testOnly: boolean, requeue: (at: Date | null) => Promise<void>): Promise<void> {
    if (!testOnly) {
      const st = await delivery.sendStatus(ctx.send_id);
      if (st?.status !== 'running') return;
    }
    const s = await delivery.pendingSummary(ctx.send_id, testOnly);
    if (!s.pending) {
      if (!testOnly && ctx.type !== 'opened' && !ctx.dont_close_if_empty) {
        if (await delivery.finishSend(ctx.send_id)) logger.info({ mailingId: ctx.mailing_id, sendId: ctx.send_id }, 'send finished');
      }
      return;
    }
    // Someone else's leases: look again when they expire (their worker may die); retries: when due.
    const times = [s.nextRetry, s.leaseEnd && new Date(s.leaseEnd.getTime() + 1000), testOnly ? null : ctx.deadline]
      .filter((t): t is Date => t instanceof Date)
      .map((t) => t.getTime());
    await requeue(new Date(times.length ? Math.min(...times) : Date.now() + 1000));
  }
}
