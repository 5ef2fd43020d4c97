#!/usr/bin/env node
// The sockvisor command line: yargs commands, each a module with command/describe/builder/handler.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as runCommand from './run-command.js';
import * as systemdUnitCommand from './systemd-unit-command.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const words = hideBin(process.argv);
// halt-at-non-option (so that COMMAND's own options stay COMMAND's) also hides command names from
// yargs: `systemd-unit` is recognised by its first word and parsed as the only command.
const unitOnly = words[0] === systemdUnitCommand.command;

const cli = yargs(unitOnly ? words.slice(1) : words)
  .scriptName(unitOnly ? `sockvisor ${systemdUnitCommand.command}` : 'sockvisor')
  .parserConfiguration({ 'populate--': true, 'halt-at-non-option': true, 'boolean-negation': false })
  // SOCKVISOR_SOCKET_MODE=0660 and so on: every option from the environment, below the command line.
  .env('SOCKVISOR')
  .command(unitOnly ? { ...systemdUnitCommand, command: '$0' } : systemdUnitCommand);
if (!unitOnly) cli.command(runCommand);
await cli
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
