/**
 * @module cli/logs-program
 * `mxguard logs …` on its own (see cli/main): the same subcommands as in the whole program.
 */
import { Command } from 'commander';
import { registerLogsCommand } from './logs.js';
import { pflogsummArgv } from './logs-report.js';
import { run } from './run.js';

const program = new Command();
program.name('mxguard').description('Mail gateway that keeps a mail server from being abused').version('0.1.0');
registerLogsCommand(program, run);
await program.parseAsync(pflogsummArgv(process.argv));
