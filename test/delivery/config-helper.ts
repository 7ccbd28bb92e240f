/**
 * Test helpers of the delivery suite: a Config from a few main.cf settings, and a
 * DeliveryRequest whose message comes from memory.
 */
import { Readable } from 'node:stream';
import { Config } from '../../src/config/config.js';
import type { DeliveryRequest } from '../../src/delivery/types.js';

/** testConfig - main.cf settings on top of fixed host defaults (mx.example.test, 127.0.0.1/32). */
export function testConfig(settings: Record<string, string> = {}): Config {
  return new Config(
    new Map(Object.entries(settings).map(([k, v]) => [k, { value: v, file: 'test', line: 1 }])),
    new Map([['myhostname', 'mx.example.test'], ['mydomain', 'example.test'], ['mynetworks', '127.0.0.1/32'], ['config_directory', '']]),
  );
}

export interface RequestOptions {
  readonly sender?: string;
  readonly recipients: readonly string[];
  readonly transport?: string;
  readonly nexthop?: string;
  /** Message text; CRLF line ends as the spool keeps them. */
  readonly message?: string | Buffer;
  /** Split the message into chunks of this many bytes, to cross chunk boundaries. */
  readonly chunkSize?: number;
  /** Make the message stream fail after this many bytes. */
  readonly failAfter?: number;
}

export const SAMPLE_MESSAGE = 'From: a@sender.test\r\nTo: b@example.test\r\nSubject: test\r\n\r\nHello.\r\n';

/** testRequest - a DeliveryRequest for `cfg`; each openMessage() is a fresh stream. */
export function testRequest(cfg: Config, o: RequestOptions): DeliveryRequest {
  const body = Buffer.isBuffer(o.message) ? o.message : Buffer.from(o.message ?? SAMPLE_MESSAGE);
  const chunk = o.chunkSize ?? 65536;
  return {
    queueId: 'TESTQID1',
    sender: o.sender ?? 'a@sender.test',
    recipients: o.recipients.map((address) => ({ address })),
    transport: o.transport ?? 'smtp',
    nexthop: o.nexthop ?? '',
    arrivalTime: new Date(),
    size: body.length,
    config: cfg,
    openMessage() {
      const failAfter = o.failAfter;
      return Readable.from((function* () {
        for (let i = 0; i < body.length; i += chunk) {
          if (failAfter !== undefined && i >= failAfter) throw new Error('spool file read error');
          yield body.subarray(i, i + chunk);
        }
      })());
    },
  };
}
