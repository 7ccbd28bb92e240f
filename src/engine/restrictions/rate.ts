/**
 * @module engine/restrictions/rate
 * check_rate_limits: the $mxguard_rate_limits rules as a restriction, for lists the SMTP
 * session does not run itself: above all `mxguard_policy_restrictions`, so that a Postfix asking
 * mxguard's policy service is rate-limited by the same rules (postfwd's job). At RCPT it counts
 * one recipient for the rules on `recipients`; at DATA and end-of-data one message for the rules
 * on `messages`. The gateway's own sessions already apply the rules (limits/); naming this
 * restriction in a gateway list would count twice.
 */
import { dunno, policyReply, reject } from '../outcome.js';
import { isEventLimitException } from '../../limits/index.js';
import { applyRules } from '../../limits/limiter.js';
import { limitsStore, storeFailureMode } from '../../limits/store.js';
import { StoreUnavailableError } from '../../state/types.js';
import { defineRestriction } from './define.js';

export const rateRestrictions = [
  defineRestriction({
    name: 'check_rate_limits',
    mayPermit: false,
    doc: 'Count this recipient (at RCPT) or message (at DATA and end-of-data) against the $mxguard_rate_limits rules and refuse it past a limit (for the policy service; the gateway applies the rules itself).',
    async evaluate(env) {
      const tx = env.tx;
      const metric = env.stage === 'rcpt' ? 'recipients' : env.stage === 'data' || env.stage === 'eod' ? 'messages' : undefined;
      if (!metric) return dunno('rate limits count recipients at RCPT and messages at DATA');
      const cfg = env.facts.config;
      const subject = {
        service: tx.service, address: tx.client.address, clientLog: `${tx.client.name}[${tx.client.address}]`,
        ...(tx.sasl ? { saslUsername: tx.sasl.username } : {}), ...(tx.sender !== undefined ? { sender: tx.sender } : {}),
      };
      try {
        const v = await applyRules(await limitsStore(cfg), cfg, metric, subject, 1, 'take', { exemptClient: isEventLimitException(cfg, tx.client.address, tx.client.name) });
        if (!v) return dunno(`within every ${metric} rule`);
        env.run.events.push({ action: 'warning', text: v.log });
        return reject(policyReply(v.reply.code, v.reply.status ?? '7.1', v.reply.text.join(' ')), v.log);
      } catch (e) {
        if (!(e instanceof StoreUnavailableError)) throw e;
        env.run.events.push({ action: 'warning', text: `rate limits: state store unavailable: ${e.message}` });
        if (storeFailureMode(cfg) === 'tempfail') return reject(policyReply(451, '3.0', 'Error: temporary failure of the rate limit store'), 'state store unavailable; tempfail');
        return dunno('state store unavailable; mxguard_state_store_failure = open');
      }
    },
  }),
];
