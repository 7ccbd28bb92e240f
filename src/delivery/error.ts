/**
 * @module delivery/error
 * The error and retry transports, as Postfix's error(8): every recipient fails with the
 * nexthop as the reason — error bounces it (5.0.0), retry defers it (4.0.0). The text may
 * start with its own enhanced status code (`error:5.1.1 no such user here`), whose class must
 * agree with the transport (RFC 3463 §2).
 */
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from './types.js';

function failAgent(kind: 'bounced' | 'deferred'): DeliveryAgent {
  const cls = kind === 'bounced' ? '5' : '4';
  return {
    async deliver(req: DeliveryRequest): Promise<RecipientResult[]> {
      let text = req.nexthop.trim();
      let dsn = `${cls}.0.0`;
      const m = /^([245])\.(\d{1,3})\.(\d{1,3})\s+(.*)$/s.exec(text);
      if (m && m[1] === cls) { dsn = `${m[1]}.${m[2]}.${m[3]}`; text = m[4]!.trim(); }
      if (!text) text = kind === 'bounced' ? 'mail for this destination is not deliverable' : 'delivery temporarily suspended';
      return req.recipients.map((r) => ({ address: r.address, status: kind, dsn, relay: 'none', text }));
    },
  };
}

/** error(8): bounce every recipient with the nexthop text. */
export const errorAgent: DeliveryAgent = failAgent('bounced');
/** retry (error(8) run as "retry"): defer every recipient with the nexthop text. */
export const retryAgent: DeliveryAgent = failAgent('deferred');
