#!/usr/bin/env node
/**
 * @module cli/main
 * The `mxguard` command. Each subcommand parses its flags and calls one module.
 */
// fsyncs of concurrent sessions run in parallel in the thread pool (default 4 threads).
process.env.UV_THREADPOOL_SIZE ??= '16';
import { Command } from 'commander';
import { ConfigError } from '../config/types.js';
import { serve } from './serve.js';
import { configCommand } from './config-cmd.js';
import { queueDelete, queueFlush, queueList, queueShow } from './queue-cmd.js';
import { registerPasswdCommand } from './passwd.js';
import { renderReference } from '../config/reference.js';

/** Runs a command body: configuration errors become one clear line and exit status 1. */
function run(fn: () => number | Promise<number | void> | void): Promise<void> {
  return Promise.resolve().then(fn).then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  }, (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`mxguard: fatal: ${e.message}\n`);
      process.exit(1);
    }
    // A system error (a directory that cannot be written, a file that cannot be read) is the
    // administrator's to fix: say what and where, without a stack trace.
    const sys = e as NodeJS.ErrnoException;
    if (sys && typeof sys.code === 'string' && sys.syscall) {
      process.stderr.write(`mxguard: fatal: ${sys.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`mxguard: fatal: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}

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
  .description('list the mail queue (like mailq); subcommands show, flush, delete')
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

registerPasswdCommand(program);

await program.parseAsync(process.argv);
