// The `flarelet` command line: dispatches to a subcommand and turns known errors into a message
// and exit code 2 (usage, configuration) instead of a stack trace.
import { ConfigError } from '../config/wrangler.ts';
import { UsageError } from './args.ts';
import { DEV_USAGE, runDev } from './dev.ts';
import { LOGS_USAGE, runLogs } from './logs.ts';
import { runTail, TAIL_USAGE } from './tail.ts';

const USAGE = `Usage: flarelet <command> [options]

Commands:
  dev [entry…]     serve workers locally with live traces
  tail <worker>    stream a worker's trace events live
  logs <worker>    query a worker's persisted logs

Run 'flarelet <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev':
      await runDev(rest);
      return;
    case 'tail':
      await runTail(rest);
      return;
    case 'logs':
      await runLogs(rest);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`flarelet: ${error.message}\n`);
      const usage: Record<string, string> = { dev: DEV_USAGE, tail: TAIL_USAGE, logs: LOGS_USAGE };
      const commandUsage = usage[process.argv[2] ?? ''];
      if (error instanceof UsageError && commandUsage) process.stderr.write(`\n${commandUsage}\n`);
      process.exit(2);
    }
    process.stderr.write(`flarelet: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
