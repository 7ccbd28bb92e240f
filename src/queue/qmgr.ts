/**
 * @module queue/qmgr
 * The queue manager (Postfix's qmgr(8) in one module): picks up acknowledged messages,
 * groups their recipients by transport and next hop, hands each group to a delivery agent
 * with bounded concurrency, logs every result in Postfix's format, retries deferrals with
 * Postfix's back-off (the message's age, clamped to [minimal_backoff_time,
 * maximal_backoff_time]), returns mail that cannot be delivered (5xx, or older than
 * maximal_queue_lifetime) to its sender as an RFC 3464 bounce, and removes finished messages.
 *
 * Delivery is at least once: a crash between a delivery and the state write that records it
 * repeats that delivery after restart; nothing acknowledged is ever lost.
 */
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { agentFor } from '../delivery/index.js';
import { resolveTransport } from '../delivery/transport.js';
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from '../delivery/types.js';
import { buildBounceMessage, isBounceable, type BounceRecipient } from './bounce.js';
import type { DeliveryState, Envelope, QueuedMessage, Spool } from './spool.js';

/** Postfix's delay formatting: at most two decimals, no trailing zeros (`0.13`, `0.1`, `0`). */
export function fmtDelay(sec: number): string {
  if (sec >= 100) return sec.toFixed(0);
  if (sec >= 10) return String(Number(sec.toFixed(1)));
  return String(Number(sec.toFixed(2)));
}

class Slots {
  private used = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async take(): Promise<() => void> {
    if (this.used >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.used++;
    let done = false;
    return () => { if (done) return; done = true; this.used--; this.waiters.shift()?.(); };
  }
}

/** nextAttempt of a held message: never, until released. */
const HELD = 8.64e15;

function filterTransport(filter: string): { transport: string; nexthop: string } {
  const i = filter.indexOf(':');
  return { transport: filter.slice(0, i), nexthop: filter.slice(i + 1) };
}

export class QueueManager {
  /** Queue id → when the next attempt is due (ms). */
  private readonly due = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly destSlots = new Map<string, Slots>();
  private readonly processSlots: Slots;
  private timer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly abort = new AbortController();

  /**
   * `firstAttemptOnly`: a listener worker delivers what it accepted once; what is deferred is
   * handed to the primary (`onDeferred`), which owns every retry.
   */
  constructor(private cfg: Config, private readonly spool: Spool, private readonly logger: Logger,
    private readonly opts: { firstAttemptOnly?: boolean; onDeferred?: (id: string) => void } = {}) {
    this.processSlots = new Slots(cfg.int('default_process_limit'));
    // Every running delivery listens for shutdown on this one signal.
    setMaxListeners(0, this.abort.signal);
  }

  private log(program: string, text: string) { this.logger.line(program, text); }

  /** Resumes everything in the spool: all that was acknowledged before a crash or restart. */
  async start(): Promise<void> {
    await this.spool.init();
    let dropped = await this.spool.cleanIncoming();
    const recovered = await this.spool.recoverSegments();
    if (recovered) this.log('qmgr', `recovered ${recovered} queued message(s) from the group-commit log`);
    // A file renamed into active/ whose contents never reached the disk (crash between the two)
    // fails its trailer check: it was never acknowledged.
    for (const id of await this.spool.list()) {
      if (!(await this.spool.read(id))) { await this.spool.remove(id); dropped++; }
    }
    if (dropped) this.log('qmgr', `warning: removed ${dropped} incomplete queue file(s) left by an interrupted session`);
    await this.scan(false);
    // queue_run_delay: periodic scan of the whole queue (picks up files queued by other processes).
    this.scanTimer = setInterval(() => { void this.scan(false); }, this.cfg.time('queue_run_delay') * 1000);
    this.scanTimer.unref();
    this.kick();
  }

  /** Reads the queue directory; `now` makes every message due immediately (flush). */
  async scan(now: boolean): Promise<void> {
    const ids = await this.spool.list();
    const seen = new Set(ids);
    for (const id of [...this.due.keys()]) if (!seen.has(id) && !this.running.has(id)) this.due.delete(id);
    for (const id of ids) {
      if (this.running.has(id) || this.fresh.has(id) || this.finished.has(id)) continue;
      if (now || !this.due.has(id)) {
        const st = now ? undefined : await this.spool.readState(id);
        this.due.set(id, st ? st.nextAttempt : 0);
      }
    }
    this.kick();
  }

  /** SIGHUP: later attempts use the new configuration. */
  reconfigure(cfg: Config): void { this.cfg = cfg; }

  /** The primary learns of a message a worker deferred: schedule it from its state file. */
  async adopt(id: string): Promise<void> {
    if (this.stopped || this.running.has(id)) return;
    const st = await this.spool.readState(id);
    this.due.set(id, st.nextAttempt);
    this.kick();
  }

  /** A worker died: its unfinished group-commit records become queue files, delivered from here. */
  async recoverWorker(pid: number): Promise<void> {
    const n = await this.spool.recoverSegments(pid);
    if (n) this.log('qmgr', `recovered ${n} queued message(s) of worker ${pid}`);
    await this.scan(false);
  }

  /** Messages handed over in memory by the process that queued them (no read-back needed). */
  private readonly fresh = new Map<string, QueuedMessage>();
  private kickPending = false;
  /** Recently finished ids (bounded), so that a late hand-over cannot deliver a message twice. */
  private readonly finished = new Set<string>();

  private markFinished(id: string) {
    this.finished.add(id);
    if (this.finished.size > 10000) this.finished.delete(this.finished.values().next().value!);
  }

  /** A message was just queued: deliver it now. */
  notify(id: string, msg?: QueuedMessage): void {
    // A periodic scan may have found and finished the file before this hand-over arrived.
    if (this.stopped || this.finished.has(id)) return;
    if (msg) this.fresh.set(id, msg);
    this.due.set(id, 0);
    // Let the session finish its turn (its reply is on the wire) before delivery work starts.
    if (!this.kickPending) { this.kickPending = true; setImmediate(() => { this.kickPending = false; this.kick(); }); }
  }

  /** `mxguard queue flush`: retry everything now. */
  flush(): Promise<void> { return this.scan(true); }

  get queueSize(): number { return this.due.size + this.running.size; }

  private kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    let next = Infinity;
    for (const [id, at] of this.due) {
      if (this.running.has(id)) continue;
      if (at <= now) {
        this.due.delete(id);
        this.running.add(id);
        const p = this.attempt(id).catch((e) => {
          this.log('qmgr', `warning: ${id}: delivery attempt failed: ${(e as Error).message}`);
          this.due.set(id, Date.now() + this.cfg.time('minimal_backoff_time') * 1000);
        }).finally(() => { this.running.delete(id); this.inFlight.delete(p); this.kick(); });
        this.inFlight.add(p);
      } else next = Math.min(next, at);
    }
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.kick(), Math.min(next - now, 2 ** 31 - 1));
      this.timer.unref();
    }
  }

  private slotsFor(key: string): Slots {
    let s = this.destSlots.get(key);
    if (!s) { s = new Slots(this.cfg.int('default_destination_concurrency_limit')); this.destSlots.set(key, s); }
    return s;
  }

  private async attempt(id: string): Promise<void> {
    const activated = Date.now();
    const handed = this.fresh.get(id);
    this.fresh.delete(id);
    const msg = handed ?? await this.spool.read(id);
    if (!msg) return; // deleted meanwhile (mxguard queue delete)
    const env = msg.envelope;
    if (env.hold && !msg.state.released) {
      // access(5) HOLD: the message stays queued, undelivered, until released (postsuper -H).
      await this.spool.spill(msg);
      await this.spool.writeState(id, { ...msg.state, held: true, nextAttempt: HELD });
      if (!msg.state.held) this.log('qmgr', `${id}: from=<${env.sender}>, size=${msg.size}, nrcpt=${env.recipients.length} (queue hold)`);
      if (this.opts.firstAttemptOnly) this.opts.onDeferred?.(id);
      else this.due.set(id, HELD);
      return;
    }
    const done = new Set(msg.state.done);
    const todo = env.recipients.filter((r) => !done.has(r.address));
    this.log('qmgr', `${id}: from=<${env.sender}>, size=${msg.size}, nrcpt=${env.recipients.length} (queue active)`);

    // Group by (transport, nexthop), then split by the recipient limit.
    const groups = new Map<string, { transport: string; nexthop: string; rcpts: typeof todo }>();
    for (const r of todo) {
      // access(5) FILTER transport:destination overrides the routing of every recipient.
      const t = env.filter ? filterTransport(env.filter) : resolveTransport(this.cfg, r.address);
      const key = `${t.transport}:${t.nexthop}`;
      const g = groups.get(key) ?? { transport: t.transport, nexthop: t.nexthop, rcpts: [] };
      g.rcpts.push(r);
      groups.set(key, g);
    }
    const perRequest = this.cfg.int('default_destination_recipient_limit');
    const jobs: Promise<RecipientResult[]>[] = [];
    for (const [key, g] of groups) {
      for (let i = 0; i < g.rcpts.length; i += perRequest) {
        const rcpts = g.rcpts.slice(i, i + perRequest);
        jobs.push(this.deliverGroup(msg, g.transport, g.nexthop, key, rcpts, activated));
      }
    }
    const results = (await Promise.all(jobs)).flat();

    const softBounce = this.cfg.bool('soft_bounce');
    const lifetime = (env.isBounce ? this.cfg.time('bounce_queue_lifetime') : this.cfg.time('maximal_queue_lifetime')) * 1000;
    const expired = Date.now() - env.arrival >= lifetime;
    const bounced: BounceRecipient[] = [];
    const reasons: Record<string, string> = { ...(msg.state.reasons ?? {}) };
    let deferred = 0;
    for (const r of results) {
      if (r.status === 'bounced' && !softBounce) { done.add(r.address); bounced.push(this.bounceEntry(r, env)); delete reasons[r.address]; }
      else if (r.status === 'sent') { done.add(r.address); delete reasons[r.address]; }
      else { deferred++; reasons[r.address] = r.text; }
    }
    if (deferred && expired) {
      this.log('qmgr', `${id}: from=<${env.sender}>, status=expired, returned to sender`);
      for (const r of results) {
        if (done.has(r.address)) continue;
        done.add(r.address);
        bounced.push({ ...this.bounceEntry(r, env), dsn: r.dsn.replace(/^4/, '5') });
      }
      deferred = 0;
    }
    if (bounced.length) await this.sendBounce(msg, bounced);
    if (done.size >= env.recipients.length) {
      // A message that was deleted meanwhile (mxguard queue delete) is not logged twice.
      if (await this.spool.finish(msg)) this.log('qmgr', `${id}: removed`);
      this.markFinished(id);
      return;
    }
    // Postfix back-off: wait as long as the message is old, within the configured bounds.
    const age = (Date.now() - env.arrival) / 1000;
    const wait = Math.min(Math.max(age, this.cfg.time('minimal_backoff_time')), this.cfg.time('maximal_backoff_time'));
    // postconf(5) delay_warning_time: one notice to the sender once mail has waited this long.
    const warnAfter = this.cfg.time('delay_warning_time') * 1000;
    let warned = msg.state.warned ?? false;
    if (warnAfter > 0 && !warned && Date.now() - env.arrival >= warnAfter) {
      const delayed = results.filter((r) => !done.has(r.address)).map((r) => ({ ...this.bounceEntry(r, env), dsn: r.dsn.replace(/^5/, '4') }));
      if (delayed.length) await this.sendBounce(msg, delayed, 'delay');
      warned = true;
    }
    const state: DeliveryState = { done: [...done], attempts: msg.state.attempts + 1, nextAttempt: Date.now() + wait * 1000, reasons, warned };
    // A deferred message leaves the group-commit log for a queue file of its own.
    await this.spool.spill(msg);
    await this.spool.writeState(id, state);
    if (this.opts.firstAttemptOnly) this.opts.onDeferred?.(id);
    else if (!this.stopped) this.due.set(id, state.nextAttempt);
  }

  private bounceEntry(r: RecipientResult, env: Envelope): BounceRecipient {
    const orig = env.recipients.find((x) => x.address === r.address)?.orig;
    const remote = /^host (\S+?)\[/.exec(r.text)?.[1];
    return { address: r.address, origAddress: orig, dsn: r.dsn, diagnostic: r.remoteReply ?? r.text, remoteMta: remote };
  }

  private async deliverGroup(msg: QueuedMessage, transport: string, nexthop: string, key: string,
    rcpts: readonly { address: string; orig?: string }[], activated: number): Promise<RecipientResult[]> {
    const env = msg.envelope;
    const release = await this.slotsFor(key).take();
    const releaseProc = await this.processSlots.take();
    const started = Date.now();
    let results: RecipientResult[];
    const agent = agentFor(transport);
    try {
      if (!agent) {
        results = rcpts.map((r) => ({ address: r.address, status: 'deferred' as const, dsn: '4.3.0', relay: 'none', text: `mail transport unavailable: unknown transport "${transport}"` }));
      } else {
        const req: DeliveryRequest = {
          queueId: env.id, sender: env.sender, recipients: rcpts.map((r) => ({ address: r.address, origAddress: r.orig })),
          transport, nexthop, arrivalTime: new Date(env.arrival), size: msg.size, body: env.body, smtputf8: env.smtputf8,
          openMessage: () => this.spool.openMessage(msg), config: this.cfg,
        };
        if (agent.instant) results = await agent.deliver(req, this.abort.signal);
        else results = await this.deliverBounded(agent, req);
      }
    } catch (e) {
      results = rcpts.map((r) => ({ address: r.address, status: 'deferred' as const, dsn: '4.3.0', relay: 'none', text: `delivery failed: ${(e as Error).message}` }));
    } finally {
      release(); releaseProc();
    }
    const end = Date.now();
    const program = agent ? (transport === 'relay' ? 'smtp' : transport) : 'error';
    for (const r of results) {
      const orig = rcpts.find((x) => x.address === r.address)?.orig;
      const a = Math.max(0, activated - env.arrival) / 1000;
      const b = Math.max(0, started - activated) / 1000;
      const c = r.connSetup ?? 0;
      const d = r.transmission ?? Math.max(0, (end - started) / 1000 - c);
      const status = r.status === 'bounced' && this.cfg.bool('soft_bounce') ? 'deferred' : r.status;
      const dsn = status === 'deferred' ? r.dsn.replace(/^5/, '4') : r.dsn;
      this.log(program, `${env.id}: to=<${r.address}>, ${orig ? `orig_to=<${orig.replace(/^rfc822;/i, '')}>, ` : ''}relay=${r.relay}, delay=${fmtDelay((end - env.arrival) / 1000)}, delays=${fmtDelay(a)}/${fmtDelay(b)}/${fmtDelay(c)}/${fmtDelay(d)}, dsn=${dsn}, status=${status} (${r.text})`);
    }
    return results;
  }

  /** One attempt of an agent that does I/O, ended by mxguard_delivery_timeout or by shutdown. */
  private async deliverBounded(agent: DeliveryAgent, req: DeliveryRequest): Promise<RecipientResult[]> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('delivery timed out')), this.cfg.time('mxguard_delivery_timeout') * 1000);
    const onStop = () => ac.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      return await agent.deliver(req, ac.signal);
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
  }

  /** Queues an RFC 3464 notice to the sender; never for the null sender or for a bounce. */
  private async sendBounce(msg: QueuedMessage, all: BounceRecipient[], kind: 'failure' | 'delay' = 'failure'): Promise<void> {
    const env = msg.envelope;
    // RFC 3461 §4.1: a recipient given NOTIFY without FAILURE (or DELAY) is not reported on.
    const wanted = kind === 'failure' ? 'FAILURE' : 'DELAY';
    const rcpts = all.filter((b) => {
      const n = env.recipients.find((r) => r.address === b.address)?.notify;
      return !n || n.includes(wanted);
    });
    if (rcpts.length < all.length) this.log('bounce', `${env.id}: no ${kind === 'failure' ? 'non-delivery' : 'delay'} notice for ${all.length - rcpts.length} recipient(s) by their NOTIFY request`);
    if (!rcpts.length) return;
    if (env.isBounce || !isBounceable(env.sender, { doubleBounceSender: this.cfg.get('double_bounce_sender') })) {
      if (kind !== 'failure') return;
      this.log('bounce', `${env.id}: undeliverable ${env.isBounce ? 'notification' : 'mail from the null sender'}, not returned: ${rcpts.map((r) => `<${r.address}>`).join(', ')}`);
      // postconf(5) notify_classes "2bounce": an undeliverable bounce goes to the postmaster,
      // once (what the postmaster cannot receive is dropped, never bounced again).
      if (env.isBounce && !env.isDoubleBounce && this.cfg.list('notify_classes').map((c) => c.toLowerCase()).includes('2bounce')) {
        let to = this.cfg.get('2bounce_notice_recipient');
        if (!to.includes('@')) to = `${to}@${this.cfg.get('myorigin')}`;
        await this.queueNotice(msg, rcpts, 'failure', to, true, 'postmaster non-delivery notification');
      }
      return;
    }
    await this.queueNotice(msg, rcpts, kind, env.sender, false, `sender ${kind === 'delay' ? 'delay' : 'non-delivery'} notification`);
  }

  /** Builds an RFC 3464 notice about `msg` for `to`, queues it from the null sender, and logs it. */
  private async queueNotice(msg: QueuedMessage, rcpts: BounceRecipient[], kind: 'failure' | 'delay', to: string, doubleBounce: boolean, what: string): Promise<void> {
    const env = msg.envelope;
    const limit = this.cfg.size('bounce_size_limit');
    const original = await this.spool.readMessage(msg, limit > 0 ? limit + 1 : Infinity);
    const host = this.cfg.get('myhostname');
    const body = buildBounceMessage({
      reportingMta: host, queueId: env.id, originalSender: to, arrivalDate: new Date(env.arrival),
      kind, recipients: rcpts, original, sizeLimit: limit, ret: env.ret === 'HDRS' ? 'hdrs' : 'full',
      willRetryUntil: kind === 'delay' ? new Date(env.arrival + this.cfg.time('maximal_queue_lifetime') * 1000) : undefined,
    });
    const w = await this.spool.create({ sender: '', recipients: [{ address: to }], arrival: Date.now(), isBounce: true, isDoubleBounce: doubleBounce || undefined });
    try {
      await w.write(body);
      await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
    this.log('bounce', `${env.id}: ${what}: ${w.envelope.id}`);
    const mid = /^Message-ID:[ \t]*(<[^>\r\n]*>)/im.exec(body.subarray(0, 4096).toString('latin1'))?.[1] ?? '';
    this.log('cleanup', `${w.envelope.id}: message-id=${mid}`);
    this.notify(w.envelope.id, w.queued());
  }

  /** Stops scheduling; gives running deliveries `deadlineMs`, then aborts them. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    const all = Promise.allSettled([...this.inFlight]);
    const t = setTimeout(() => this.abort.abort(new Error('shutting down')), deadlineMs);
    await all;
    clearTimeout(t);
  }
}
