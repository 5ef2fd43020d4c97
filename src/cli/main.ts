// The sockvisor command line: yargs commands, each a module with command/describe/builder/handler.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as doctorCommand from './doctor-command.js';
import * as nginxSnippetCommand from './nginx-snippet-command.js';
import { invalidEnvironmentFlag, unknownEnvironmentOptions } from '../config/options.js';
import { checkOwnInput } from './raw-input.js';
import * as reloadCommand from './reload-command.js';
import * as runCommand from './run-command.js';
import * as statusCommand from './status-command.js';
import * as stopCommand from './stop-command.js';
import * as systemdUnitCommand from './systemd-unit-command.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

// `run` and `systemd-unit` stop parsing at COMMAND (halt-at-non-option), so that
// `sockvisor -s P uwsgi --socket X` leaves uWSGI's options alone. That also hides every command
// name from yargs, so commands are recognised by their first word here: a leading `run` (the
// default) is dropped, `systemd-unit` is parsed as the only command, and `doctor` and
// `nginx-snippet` (which take no COMMAND) are parsed whole.
let args = hideBin(process.argv);

// Before anything reads an argument: one Node has already changed (bytes that are not UTF-8) is refused.
const invalid = checkOwnInput(args.length);
if (invalid !== null) {
  process.stderr.write(`${invalid}\n`);
  process.exit(2);
}
const first = args[0];
// status, reload and stop ask a running sockvisor on its control socket (src/control/).
const ownCommand =
  first === 'doctor' || first === 'nginx-snippet' || first === 'status' || first === 'reload' || first === 'restart' || first === 'stop';
const unitOnly = first === systemdUnitCommand.command;
if (first === 'run' || unitOnly) args = args.slice(1);

// A SOCKVISOR_* variable that names no option of run is a typo that would otherwise be ignored.
const unknownEnv = ownCommand ? [] : unknownEnvironmentOptions(process.env);
if (unknownEnv.length > 0) {
  process.stderr.write(
    `sockvisor: the environment variable ${unknownEnv.join(', ')} names no option of sockvisor: unset it, or correct the name (e.g. SOCKVISOR_SOCKET_MODE for --socket-mode).\n`,
  );
  process.exit(2);
}
const badFlag = ownCommand ? null : invalidEnvironmentFlag(process.env);
if (badFlag) {
  process.stderr.write(`${badFlag}\n`);
  process.exit(2);
}

const parser = yargs(args).scriptName(unitOnly ? `sockvisor ${systemdUnitCommand.command}` : 'sockvisor');
// SOCKVISOR_SOCKET_MODE=0660 and so on: every option of run from the environment, below the
// command line. The other commands read SOCKVISOR_SOCKET alone, so that run's variables are no
// unknown options to them.
if (!ownCommand) parser.env('SOCKVISOR');
parser.parserConfiguration({ 'populate--': true, 'halt-at-non-option': !ownCommand, 'boolean-negation': false });
if (unitOnly) parser.command({ ...systemdUnitCommand, command: '$0' });
else {
  parser.command(runCommand).command(doctorCommand).command(nginxSnippetCommand).command(systemdUnitCommand);
  parser.command(statusCommand).command(reloadCommand).command(stopCommand);
}
await parser
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
