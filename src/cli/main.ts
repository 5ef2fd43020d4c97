#!/usr/bin/env node
// The sockvisor command line: yargs commands, each a module with command/describe/builder/handler.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { unknownEnvironmentOptions } from '../config/options.js';
import * as runCommand from './run-command.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const unknownEnv = unknownEnvironmentOptions(process.env);
if (unknownEnv.length > 0) {
  process.stderr.write(`sockvisor: the environment variable ${unknownEnv.join(', ')} names no option of sockvisor: unset it, or correct the name (e.g. SOCKVISOR_SOCKET_MODE for --socket-mode).\n`);
  process.exit(2);
}

await yargs(hideBin(process.argv))
  .scriptName('sockvisor')
  .parserConfiguration({ 'populate--': true, 'halt-at-non-option': true, 'boolean-negation': false })
  // SOCKVISOR_SOCKET_MODE=0660 and so on: every option from the environment, below the command line.
  .env('SOCKVISOR')
  .command(runCommand)
  .strictOptions()
  .version(pkg.version)
  .help()
  .alias('help', 'h')
  .wrap(100)
  .fail((message, error, y) => {
    if (error) throw error;
    process.stderr.write(`sockvisor: ${message}\nRun 'sockvisor --help' for the options.\n`);
    void y;
    process.exit(2);
  })
  .parseAsync();
