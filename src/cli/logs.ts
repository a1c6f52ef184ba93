// Placeholder: `flarelet logs` is being built (see the open issue).
import { UsageError } from './args.ts';

export const LOGS_USAGE = 'Usage: flarelet logs <worker> [options]';

export async function runLogs(_argv: string[]): Promise<void> {
  throw new UsageError('flarelet logs is not available yet');
}
