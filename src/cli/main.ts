// The `flarelet` command line: dispatches to a subcommand and turns known errors into a message
// and exit code 2 (usage, configuration) instead of a stack trace.
import { ConfigError } from '../config/wrangler.ts';
import { UsageError } from './args.ts';
import { DEV_USAGE, runDev } from './dev.ts';

const USAGE = `Usage: flarelet <command> [options]

Commands:
  dev [entry…]   serve workers locally with live traces

Run 'flarelet <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev':
      await runDev(rest);
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
      if (error instanceof UsageError && /dev/.test(process.argv[2] ?? '')) process.stderr.write(`\n${DEV_USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`flarelet: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
