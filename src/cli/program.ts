/**
 * @module cli/program
 * The whole `mxguard` command line. Each subcommand parses its flags and calls one module.
 */
import { Command } from 'commander';
import { run } from './run.js';
import { serve } from './serve.js';
import { configCommand } from './config-cmd.js';
import { queueDelete, queueFlush, queueList, queueRelease, queueShow } from './queue-cmd.js';
import { registerPasswdCommand } from './passwd.js';
import { checkCommand, EXIT_CONFIG } from './check.js';
import { listsCommand } from './lists.js';
import { policyCommand } from './policy.js';
import { renderReference } from '../config/reference.js';
import { registerBansCommand } from './bans.js';
import { registerLogsCommand } from './logs.js';

const program = new Command();
program.name('mxguard').description('Mail gateway that keeps a mail server from being abused').version('0.1.0');

program.command('serve')
  .description('run the SMTP gateway (embedded defaults without --config: 127.0.0.1:2525, state in ./var)')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((o: { config?: string }) => run(() => serve(o)));

program.command('config')
  .description('print the effective parameters, like postconf')
  .argument('[names...]', 'parameters to print')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .option('-n', 'only parameters set in main.cf')
  .option('-d', 'default values')
  .option('-x', 'expand $name in values')
  .option('-M', 'the SMTP services from master.cf')
  .option('--reference', 'print the configuration reference (docs/configuration.md) and exit')
  .action((names: string[], o) => run(() => {
    if (o.reference) { process.stdout.write(renderReference()); return 0; }
    return configCommand(names, o);
  }));

const queue = program.command('queue')
  .description('list the mail queue (like mailq); subcommands show, flush, delete, release')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((o: { config?: string }) => run(() => queueList(o)));
queue.command('show').argument('<id>').description('print a queued message with its envelope')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((id: string, o: { config?: string }) => run(() => queueShow(id, { ...queue.opts(), ...o })));
queue.command('flush').description('ask the running server to attempt delivery of everything now')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((o: { config?: string }) => run(() => queueFlush({ ...queue.opts(), ...o })));
queue.command('delete').argument('<ids...>', 'queue ids, or ALL').description('delete queued messages')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((ids: string[], o: { config?: string }) => run(() => queueDelete(ids, { ...queue.opts(), ...o })));
queue.command('release').argument('<ids...>', 'queue ids, or ALL').description('release messages from hold (access(5) HOLD), like postsuper -H')
  .option('-c, --config <dir>', 'configuration directory')
  .action((ids: string[], o: { config?: string }) => run(() => queueRelease(ids, { ...queue.opts(), ...o })));

registerPasswdCommand(program);
registerBansCommand(program, run);
registerLogsCommand(program, run);

program.command('lists')
  .description('show each DNS block/allow list: healthy, degraded or refusing, last answer, hit rate (exit 1 if one is not healthy)')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .option('--json', 'print one JSON document')
  .option('--check', 'ask each list\'s RFC 5782 test points now instead of reading the server\'s state file')
  .action((o: { config?: string; json?: boolean; check?: boolean }) => run(() => listsCommand(o)));

program.command('policy')
  .description('run the Postfix policy delegation service (check_policy_service) on $mxguard_policy_listen')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .action((o: { config?: string }) => run(() => policyCommand(o)));

program.command('check')
  .description('run one transaction through the restrictions, without a network, and show each stage\'s reply and trace (exit 0 accepted, 1 rejected, 2 deferred, 3 configuration error)')
  .option('-c, --config <dir>', 'directory with main.cf and master.cf')
  .option('--service <name>', 'use this master.cf smtpd service\'s -o overrides')
  .requiredOption('--client-address <ip>', 'client IP address')
  .option('--client-name <name>', 'verified client host name (default: unknown)')
  .option('--reverse-client-name <name>', 'reverse (PTR) client name (default: the client name)')
  .option('--helo <name>', 'HELO/EHLO name (default: none sent)')
  .option('--sender <address>', 'MAIL FROM address without <> (default: the null sender)')
  .requiredOption('--recipient <address>', 'RCPT TO address without <> (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--sasl-username <user>', 'SASL login name of an authenticated client')
  .option('--sasl-method <mech>', 'SASL mechanism (default: PLAIN)')
  .option('--tls', 'the session is TLS-encrypted')
  .option('--json', 'print one JSON document')
  .option('--mailauth', 'also evaluate SPF at MAIL FROM (DNS lookups through mxguard_dns_servers)')
  .option('--message <file>', 'message to send after DATA: also evaluate DKIM and DMARC and show the Authentication-Results: header (implies --mailauth)')
  // Usage errors are configuration errors for this verb (exit status 3), help is not an error.
  .exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG); })
  .action((o) => run(() => checkCommand(o)));

await program.parseAsync(process.argv);
