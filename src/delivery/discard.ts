/**
 * @module delivery/discard
 * The discard transport, as Postfix's discard(8): every recipient is reported delivered and the
 * message goes nowhere. The nexthop is the text of the log line (`discard:spam trap` logs
 * "status=sent (spam trap)"); without one, "discarded".
 */
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from './types.js';

export const discardAgent: DeliveryAgent = {
  instant: true,
  async deliver(req: DeliveryRequest): Promise<RecipientResult[]> {
    const text = req.nexthop.trim() || 'discarded';
    return req.recipients.map((r) => ({ address: r.address, status: 'sent', dsn: '2.0.0', relay: 'none', text }));
  },
};
