/** Queue manager and bounce parameters (qmgr(8), bounce(8)). */
import { p, type ParamDef } from '../types.js';

export const queueParams: ParamDef[] = [
  p.time('minimal_backoff_time', '300s', 'Least time a deferred message waits before the next attempt.', { min: 1 }),
  p.time('maximal_backoff_time', '4000s', 'Most time a deferred message waits before the next attempt.', { min: 1 }),
  p.time('maximal_queue_lifetime', '5d', 'Age after which a deferred message is returned to its sender.', { unit: 'd', min: 0 }),
  p.time('bounce_queue_lifetime', '5d', 'Age after which an undeliverable bounce is dropped.', { unit: 'd', min: 0 }),
  p.time('queue_run_delay', '300s', 'How often the deferred queue is scanned.', { min: 1 }),
  p.int('default_destination_concurrency_limit', '20', 'Parallel deliveries per destination.', { min: 1 }),
  p.int('default_destination_recipient_limit', '50', 'Recipients per delivery request.', { min: 1 }),
  p.int('default_process_limit', '100', 'Parallel deliveries in all.', { min: 1 }),
  p.time('delay_warning_time', '0h', 'Send a delay notice after this time (0: never).', { unit: 'h', min: 0 }),
  p.string('bounce_notice_recipient', 'postmaster', 'Recipient of postmaster copies of bounces.'),
  p.string('double_bounce_sender', 'double-bounce', 'Sender of undeliverable bounces (never bounced).'),
  p.string('2bounce_notice_recipient', 'postmaster', 'Who gets a bounce that could not be delivered itself ("2bounce" in $notify_classes); an unqualified name gets @$myorigin.'),
  p.list('notify_classes', 'resource, software', 'Problems reported to the postmaster.'),
  p.size('bounce_size_limit', '50000', 'Bytes of the original message returned in a bounce.', { min: 0 }),
];
