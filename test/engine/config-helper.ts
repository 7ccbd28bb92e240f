/** Builds Configs and transaction contexts for engine tests, with no files and no host lookups. */
import { Config } from '../../src/config/config.js';
import type { TransactionContext } from '../../src/engine/types.js';

/** A Config with these main.cf settings on top of fixed host defaults (mynetworks = 127.0.0.1/32). */
export function testConfig(settings: Record<string, string> = {}): Config {
  return new Config(
    new Map(Object.entries(settings).map(([k, v]) => [k, { value: v, file: 'test', line: 1 }])),
    new Map([['myhostname', 'mx.example.test'], ['mydomain', 'example.test'], ['mynetworks', '127.0.0.1/32'], ['config_directory', '']]),
  );
}

/** The relay battery's site: final destination example.test, trusted network 127.0.0.1/32. */
export const SITE = { mydestination: 'example.test' } as const;

/** A context at RCPT TO for `recipient`, from an outsider (127.0.0.9) unless `over` says otherwise. */
export function rcptContext(cfg: Config, recipient: string, over: Partial<TransactionContext> = {}): TransactionContext {
  return {
    stage: 'rcpt', config: cfg, service: 'smtp',
    client: { address: '127.0.0.9', port: 40000, name: 'unknown', reverseName: 'unknown' },
    helo: 'client.remote.test', protocol: 'ESMTP', tls: false,
    sender: 'sender@remote.test', recipient, recipientCount: 0,
    ...over,
  };
}
