/** The `lineage` command line: command model, option readers, exit codes. */
export { CliError, type CliErrorCode, EXIT } from "./cli-error.js";
export {
  type Command,
  type CommandIo,
  type Invocation,
  type OptionSpec,
  type OptionValues,
  type PositionalSpec,
  renderHelp,
  runCommand,
} from "./command.js";
export { main, root, VERSION } from "./main.js";
export {
  choiceOpt,
  emit,
  intOpt,
  numberOpt,
  requiredStringOpt,
  stringListOpt,
  stringOpt,
} from "./option-values.js";
