/**
 * @module config/load
 * Builds the effective configuration from `DIR/main.cf` and `DIR/master.cf`, or from the
 * embedded defaults when no directory is given, and lists the SMTP services to run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSaslPath, SECURITY_OPTIONS as SASL_SECURITY_OPTIONS } from '../auth/dovecot-sasl.js';
import { catalogue } from './catalogue.js';
import { Config } from './config.js';
import { parseMainCf, parseMasterCf, type Located, type MasterService } from './parse.js';
import { postfixParameterNames } from './postfix-names.js';
import { ConfigError, type ConfigWarning } from './types.js';

/** The embedded master.cf: one SMTP service on the loopback address, port 2525. */
export const EMBEDDED_MASTER_CF = '127.0.0.1:2525 inet n - n - - smtpd\n';

export interface ListenerSpec {
  /** master.cf service name, e.g. `smtp`, `submission`, `127.0.0.1:2525`. */
  readonly service: string;
  readonly host: string;
  readonly port: number;
  /** main.cf with this service's `-o` overrides. */
  readonly config: Config;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly listeners: readonly ListenerSpec[];
  readonly warnings: readonly ConfigWarning[];
  readonly dir?: string;
}

const SERVICE_PORTS: Record<string, number> = { smtp: 25, submission: 587, submissions: 465, smtps: 465, lmtp: 24 };

function computedDefaults(settings: ReadonlyMap<string, Located<string>>, dir?: string): Map<string, string> {
  const c = new Map<string, string>();
  c.set('config_directory', dir ?? '');
  let host = hostname();
  const domainSet = settings.get('mydomain')?.value;
  if (!host.includes('.')) host = `${host}.${domainSet || 'localdomain'}`;
  c.set('myhostname', host);
  c.set('mydomain', host.includes('.') ? host.slice(host.indexOf('.') + 1) : 'localdomain');
  // mynetworks_style = host: this machine's own addresses only (postconf(5) mynetworks_style)
  const nets = new Set<string>(['127.0.0.1/32', '[::1]/128']);
  const style = settings.get('mynetworks_style')?.value.trim().toLowerCase() ?? 'host';
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4') nets.add(style === 'host' ? `${a.address}/32` : a.cidr ?? `${a.address}/32`);
      else if (!a.address.startsWith('fe80')) {
        const [addr, len] = (style === 'host' || !a.cidr ? `${a.address}/128` : a.cidr).split('/');
        nets.add(`[${addr}]/${len}`);
      }
    }
  }
  c.set('mynetworks', [...nets].join(' '));
  return c;
}

/** Names referenced as `$name` anywhere: user-defined parameters used this way are not unknown. */
function referencedNames(values: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const v of values) for (const m of v.matchAll(/\$(?:\{|\()?([A-Za-z0-9_]+)/g)) names.add(m[1]!);
  return names;
}

function warnUnknown(name: string, where: { file: string; line: number }, referenced: Set<string>, warnings: ConfigWarning[]) {
  if (catalogue.has(name) || referenced.has(name)) return;
  if (postfixParameterNames.has(name)) {
    warnings.push({ ...where, message: `Postfix parameter "${name}" has no effect in mxguard` });
  } else {
    warnings.push({ ...where, message: `unknown parameter "${name}"` });
  }
}

/** Resolves a master.cf inet service name into listen addresses. */
function listenAddresses(svc: MasterService, cfg: Config): { host: string; port: number }[] {
  const m = /^(?:\[?([^\]]*?)\]?:)?([^:]+)$/.exec(svc.name);
  if (!m) throw new ConfigError(`bad service name "${svc.name}"`, svc.file, svc.line);
  const portName = m[2]!;
  const port = /^\d+$/.test(portName) ? Number(portName) : SERVICE_PORTS[portName];
  if (port === undefined || port < 0 || port > 65535) throw new ConfigError(`unknown service port "${portName}"`, svc.file, svc.line);
  if (m[1] !== undefined && m[1] !== '') return [{ host: m[1], port }];
  const ifaces = cfg.list('inet_interfaces').map((s) => s.toLowerCase());
  const protos = cfg.get('inet_protocols').toLowerCase();
  const out: { host: string; port: number }[] = [];
  for (const i of ifaces) {
    if (i === 'all') {
      out.push({ host: protos === 'ipv4' ? '0.0.0.0' : '::', port });
    } else if (i === 'loopback-only') {
      if (protos !== 'ipv6') out.push({ host: '127.0.0.1', port });
      if (protos !== 'ipv4') out.push({ host: '::1', port });
    } else out.push({ host: i.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** checkSasl - refuses what the SASL backend cannot use; warns that cyrus is not supported. */
function checkSasl(cfg: Config, s: MasterService, warnings: ConfigWarning[]): void {
  const sasl = cfg.get('smtpd_sasl_type').toLowerCase();
  if (sasl === 'cyrus') {
    const at = cfg.origin('smtpd_sasl_type');
    const message = `service ${s.name}: smtpd_sasl_type = cyrus is not supported; AUTH is not offered (use smtpd_sasl_type = dovecot, or mxguard's password file: smtpd_sasl_type = mxguard)`;
    if (!warnings.some((w) => w.message === message)) warnings.push({ file: at?.file, line: at?.line, message });
    return;
  }
  // postconf(5): an unknown security option is a configuration error, not something to skip.
  for (const name of ['smtpd_sasl_security_options', 'smtpd_sasl_tls_security_options']) {
    const bad = cfg.list(name).find((o) => !(SASL_SECURITY_OPTIONS as readonly string[]).includes(o.toLowerCase()));
    if (bad !== undefined) {
      const at = cfg.origin(name);
      throw new ConfigError(`service ${s.name}: ${name}: unknown option "${bad}" (known: ${SASL_SECURITY_OPTIONS.join(', ')})`, at?.file, at?.line);
    }
  }
  if (sasl !== 'dovecot') return;
  const target = parseSaslPath(cfg.get('smtpd_sasl_path'), cfg.get('queue_directory'));
  if (typeof target === 'string') {
    const at = cfg.origin('smtpd_sasl_path');
    throw new ConfigError(`service ${s.name}: ${target}`, at?.file, at?.line);
  }
}

export function loadConfig(opts: { dir?: string; requireMaster?: boolean } = {}): LoadedConfig {
  const warnings: ConfigWarning[] = [];
  const dir = opts.dir ? resolve(opts.dir) : undefined;
  let settings = new Map<string, Located<string>>();
  let masterText = EMBEDDED_MASTER_CF;
  let masterFile = '(embedded master.cf)';
  if (dir) {
    const mainFile = join(dir, 'main.cf');
    if (!existsSync(mainFile)) throw new ConfigError(`cannot read ${mainFile}: no such file`);
    settings = parseMainCf(readFileSync(mainFile, 'utf8'), mainFile);
    const mf = join(dir, 'master.cf');
    if (existsSync(mf)) { masterText = readFileSync(mf, 'utf8'); masterFile = mf; }
    else warnings.push({ file: mf, message: 'no master.cf: using the embedded service 127.0.0.1:2525' });
  }
  const services = parseMasterCf(masterText, masterFile);
  const overrideValues = services.flatMap((s) => [...s.overrides.values()]);
  const referenced = referencedNames([...[...settings.values()].map((s) => s.value), ...overrideValues]);
  for (const [name, loc] of settings) warnUnknown(name, loc, referenced, warnings);
  for (const s of services) for (const name of s.overrides.keys()) warnUnknown(name, s, referenced, warnings);

  const config = new Config(settings, computedDefaults(settings, dir));
  config.validate();
  const listeners: ListenerSpec[] = [];
  for (const s of services) {
    if (s.type !== 'inet') continue;
    if (s.command !== 'smtpd') {
      warnings.push({ file: s.file, line: s.line, message: `service "${s.name}" runs "${s.command}", which mxguard does not provide; ignored` });
      continue;
    }
    const scfg = s.overrides.size ? config.withOverrides(s.overrides, s.file, s.line) : config;
    if (s.overrides.size) scfg.validate();
    if (scfg.bool('smtpd_sasl_auth_enable')) checkSasl(scfg, s, warnings);
    for (const a of listenAddresses(s, scfg)) listeners.push({ service: s.name, ...a, config: scfg });
  }
  if (listeners.length === 0) throw new ConfigError(`no "inet ... smtpd" service to run`, masterFile);
  return { config, listeners, warnings, dir };
}
